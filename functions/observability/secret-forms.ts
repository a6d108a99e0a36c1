/**
 * The forms a secret takes in text: as this code sends it, and as a peer may echo it back. Thoth is a Python service, so its
 * echoes follow Python's quoting (`urllib.parse.quote` encodes `'()*!`, which `encodeURIComponent` leaves alone). Used by
 * redact.ts only: it replaces these forms where they stand, then looks again through decoded views of what is left.
 */

/** Every byte percent-encoded except those in `keep`; `plus` writes a space as `+` (form encoding, Python's quote_plus). */
function percent(secret: string, keep: RegExp, plus: boolean): string {
  let out = '';
  for (const byte of Buffer.from(secret, 'utf8')) {
    const char = String.fromCharCode(byte);
    if (byte < 0x80 && keep.test(char)) out += char;
    else if (plus && char === ' ') out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const lowerEscapes = (text: string): string => text.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase());

/** The percent-encodings of JavaScript, Python (`quote` with and without `/` kept, `quote_plus`) and HTML forms, either hex case. */
function percentForms(secret: string): string[] {
  const upper = [
    encodeURIComponent(secret),
    encodeURI(secret),
    percent(secret, /[A-Za-z0-9_.~-]/, false), // Python 3.7+ quote(s, safe='')
    percent(secret, /[A-Za-z0-9_.~/-]/, false), // Python quote(s), safe='/'
    percent(secret, /[A-Za-z0-9_.~-]/, true), // Python quote_plus, urlencode
    percent(secret, /[A-Za-z0-9_.*-]/, true), // application/x-www-form-urlencoded (URLSearchParams)
  ];
  const doubled = upper.slice(2, 3).map((once) => once.replaceAll('%', '%25'));
  return [...upper, ...doubled].flatMap((form) => [form, lowerEscapes(form)]);
}

/** JSON string escapes: as JSON.stringify writes them, with `\/`, and every character as `\uXXXX` in either hex case. */
function jsonForms(secret: string): string[] {
  const plain = JSON.stringify(secret).slice(1, -1);
  const unicode = [...secret].map((char) => {
    const units = char.length === 1 ? [char.charCodeAt(0)] : [char.charCodeAt(0), char.charCodeAt(1)];
    return units.map((unit) => `\\u${unit.toString(16).padStart(4, '0')}`).join('');
  }).join('');
  return [plain, plain.replaceAll('/', '\\/'), unicode, unicode.replace(/\\u([0-9a-f]{4})/g, (_, hex: string) => `\\u${hex.toUpperCase()}`)];
}

const MIN_CORE = 8;

const toUrlAlphabet = (base64: string): string => base64.replaceAll('+', '-').replaceAll('/', '_');

/**
 * base64 and base64url, padded or not; and the part of each that stays the same wherever the secret sits in a longer encoded
 * text (three byte alignments): a secret inside `user:password` or a JSON document that was base64-encoded whole.
 */
function base64Forms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const whole = bytes.toString('base64');
  const forms = [whole, whole.replace(/=+$/, '')];
  for (let offset = 0; offset < 3; offset += 1) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    // Character i covers bits [6i, 6i + 6): keep the characters made of the secret's bits only.
    const first = Math.ceil((8 * offset) / 6);
    const end = Math.floor((8 * (offset + bytes.length)) / 6);
    // Shorter cores would match ordinary text; the full forms above still cover a short secret.
    if (end - first >= MIN_CORE) forms.push(encoded.slice(first, end));
  }
  return [...forms, ...forms.map(toUrlAlphabet)];
}

/** Every form this code looks for, longest first, so a longer form is replaced before a form inside it. */
export function encodingsOf(secret: string): string[] {
  const hex = Buffer.from(secret, 'utf8').toString('hex');
  const forms = [secret, ...percentForms(secret), ...jsonForms(secret), ...base64Forms(secret), hex, hex.toUpperCase()];
  return [...new Set(forms)].sort((a, b) => b.length - a.length);
}
