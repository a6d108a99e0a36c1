/**
 * THOTH_USER_API_HOST has always been a bare `host[:port]` (the historic client put
 * `https://` in front and `/api/v1` behind); tests and some deployments need a full URL.
 */
const API_PATH = '/api/v1';

/** The base URL without a trailing slash, e.g. `https://thoth.example/api/v1`; a TypeError if it cannot be one. */
export function thothBaseUrl(hostSetting: string): string {
  const setting = hostSetting.trim();
  if (setting === '') throw new TypeError('expected a Thoth host[:port] or an http(s) URL, received an empty string');
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(setting);
  if (hasScheme && !/^https?:\/\//i.test(setting)) throw new TypeError('expected an http or https URL for the Thoth User API');
  let url: URL;
  try {
    url = new URL(hasScheme ? setting : `https://${setting}`);
  } catch {
    throw new TypeError('expected a Thoth host[:port] or an http(s) URL');
  }
  // Credentials in the URL would end up in every log line that shows the base URL.
  if (url.username !== '' || url.password !== '') throw new TypeError('the Thoth User API URL must not carry credentials');
  if (url.search !== '' || url.hash !== '') throw new TypeError('the Thoth User API URL must not carry a query or fragment');
  let path = url.pathname.replace(/\/+$/, '');
  if (!path.endsWith(API_PATH)) path += API_PATH;
  return `${url.protocol}//${url.host}${path}`;
}
