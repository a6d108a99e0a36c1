import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { thothBaseUrl } from './base-url.js';

describe('thothBaseUrl', () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ['khemenu.thoth-station.ninja', 'https://khemenu.thoth-station.ninja/api/v1'],
    ['thoth.example.com:8443', 'https://thoth.example.com:8443/api/v1'],
    ['thoth.example.com/', 'https://thoth.example.com/api/v1'],
    ['  thoth.example.com  ', 'https://thoth.example.com/api/v1'],
    ['http://127.0.0.1:40123', 'http://127.0.0.1:40123/api/v1'],
    ['http://127.0.0.1:40123/', 'http://127.0.0.1:40123/api/v1'],
    ['https://x/', 'https://x/api/v1'],
    ['https://x/api/v1', 'https://x/api/v1'],
    ['https://x/api/v1/', 'https://x/api/v1'],
    ['HTTPS://Thoth.Example:443/', 'https://thoth.example/api/v1'],
    ['http://thoth.example:80', 'http://thoth.example/api/v1'],
    ['https://gateway.example/thoth', 'https://gateway.example/thoth/api/v1'],
    ['https://gateway.example/thoth/api/v1', 'https://gateway.example/thoth/api/v1'],
    ['[::1]:8080', 'https://[::1]:8080/api/v1'],
    ['http://[::1]:8080', 'http://[::1]:8080/api/v1'],
  ];
  for (const [setting, expected] of cases) {
    it(`maps ${JSON.stringify(setting)} to ${expected}`, () => {
      assert.equal(thothBaseUrl(setting), expected);
    });
  }

  const rejected: ReadonlyArray<readonly [string, RegExp]> = [
    ['', /empty/],
    ['   ', /empty/],
    ['ftp://thoth.example', /http or https/],
    ['https://user:secret@thoth.example', /credentials/],
    ['https://thoth.example/?debug=1', /query/],
    ['https://thoth.example/#x', /fragment/],
    ['http://', /host\[:port\]/],
  ];
  for (const [setting, message] of rejected) {
    it(`rejects ${JSON.stringify(setting)}`, () => {
      assert.throws(() => thothBaseUrl(setting), (error: unknown) => {
        assert.ok(error instanceof TypeError);
        assert.match(error.message, message);
        assert.ok(!error.message.includes('secret'));
        return true;
      });
    });
  }
});
