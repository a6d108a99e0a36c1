/**
 * The encoder table the redaction tests apply to every secret: each way a peer (Thoth is a Python service) or a transport may
 * write a secret back, written here independently of functions/observability/secret-forms.ts, so a form that code forgets
 * fails a test. Each encoder gives the text to plant and the pieces of it that must not reach any output.
 */

export interface Encoded {
  /** What a hostile or careless peer writes. */
  readonly text: string;
  /** What must appear in no output: the encoded text, or each piece when the secret is split. */
  readonly pieces: readonly string[];
}

export type Encoder = (secret: string) => Encoded;

const whole = (text: string): Encoded => ({ text, pieces: [text] });
const hexOf = (text: string): string => Buffer.from(text, 'utf8').toString('hex');
const lowerEscapes = (text: string): string => text.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase());
/** Python 3's urllib.parse.quote(s, safe=''): encodeURIComponent, plus `!'()*`. */
const pythonQuote = (text: string): string => encodeURIComponent(text).replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
const unicodeEscapes = (text: string): string => [...text].map((char) => [...char].map((_, i) => `\\u${char.charCodeAt(i).toString(16).padStart(4, '0')}`).join('')).join('');
const half = (secret: string): number => Math.ceil(secret.length / 2);
const split = (secret: string, by: string): Encoded => ({ text: `${secret.slice(0, half(secret))}${by}${secret.slice(half(secret))}`, pieces: [secret.slice(0, half(secret)), secret.slice(half(secret))] });

export const ENCODERS: Readonly<Record<string, Encoder>> = {
  raw: (secret) => whole(secret),
  'encodeURIComponent': (secret) => whole(encodeURIComponent(secret)),
  'encodeURIComponent, lowercase hex': (secret) => whole(lowerEscapes(encodeURIComponent(secret))),
  "Python quote(safe='')": (secret) => whole(pythonQuote(secret)),
  "Python quote(safe=''), lowercase hex": (secret) => whole(lowerEscapes(pythonQuote(secret))),
  'Python quote (safe /)': (secret) => whole(pythonQuote(secret).replaceAll('%2F', '/')),
  'Python quote_plus': (secret) => whole(pythonQuote(secret).replaceAll('%20', '+')),
  'form-urlencoded': (secret) => whole(new URLSearchParams({ s: secret }).toString().slice(2)),
  'form-urlencoded, lowercase hex': (secret) => whole(lowerEscapes(new URLSearchParams({ s: secret }).toString().slice(2))),
  'percent, mixed-case hex': (secret) => whole(pythonQuote(secret).replace(/%[0-9A-F]{2}/g, (escape, at: number) => (at % 2 === 0 ? escape.toLowerCase() : escape))),
  'double percent-encoding': (secret) => whole(encodeURIComponent(pythonQuote(secret))),
  'hex, lowercase': (secret) => whole(hexOf(secret)),
  'hex, uppercase': (secret) => whole(hexOf(secret).toUpperCase()),
  base64: (secret) => whole(Buffer.from(secret).toString('base64')),
  'base64, unpadded': (secret) => whole(Buffer.from(secret).toString('base64').replace(/=+$/, '')),
  base64url: (secret) => whole(Buffer.from(secret).toString('base64url')),
  'base64url, padded': (secret) => whole(Buffer.from(secret).toString('base64').replaceAll('+', '-').replaceAll('/', '_')),
  'base64 of user:password (Basic)': (secret) => whole(Buffer.from(`robot$builder:${secret}`).toString('base64')),
  'base64url of user:password': (secret) => whole(Buffer.from(`robot$builder:${secret}`).toString('base64url')),
  'base64 of a JSON document holding it': (secret) => whole(Buffer.from(JSON.stringify({ auths: { registry: { password: secret } } })).toString('base64')),
  'base64, wrapped at 8 (MIME)': (secret) => {
    const encoded = Buffer.from(secret).toString('base64');
    return { text: encoded.replace(/(.{8})/g, '$1\n'), pieces: [encoded] };
  },
  'JSON string escaping': (secret) => whole(JSON.stringify(secret).slice(1, -1)),
  'JSON, every character \\uxxxx': (secret) => whole(unicodeEscapes(secret)),
  'JSON, every character \\uXXXX': (secret) => whole(unicodeEscapes(secret).replace(/\\u([0-9a-f]{4})/g, (_, hex: string) => `\\u${hex.toUpperCase()}`)),
  'JSON, slashes escaped': (secret) => whole(JSON.stringify(secret).slice(1, -1).replaceAll('/', '\\/')),
  'split by a line break': (secret) => split(secret, '\n'),
  'split by CRLF and an indent': (secret) => split(secret, '\r\n    '),
  'split by an escaped \\n in JSON text': (secret) => split(secret, '\\n'),
  'percent-encoded, split by a line break': (secret) => {
    const encoded = pythonQuote(secret);
    return { text: `${encoded.slice(0, 9)}\n${encoded.slice(9)}`, pieces: [encoded.slice(0, 9), encoded.slice(9)] };
  },
  'cut: the text ends inside it': (secret) => ({ text: secret.slice(0, half(secret)), pieces: [secret.slice(0, half(secret))] }),
};

/** Secrets with the characters that encode differently in each scheme. */
export const SECRETS: readonly string[] = [
  's3cr3t-plain-passw0rd',
  "p@ss:w0rd/'()*!+",
  's3cr3t pass with spaces&=~',
  'ünï-cødé-s3cr3t€',
];
