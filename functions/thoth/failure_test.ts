import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { refusalReason, refusedImage, transportCode } from './failure.js';

const PASSWORD = 'sha256~Zm9vYmFyYmF6&q=1 "x"';

describe('refusalReason', () => {
  it('builds a one-line reason from status and the error field', () => {
    const body = {
      error: 'There was an error accessing the image as the username/password provided was invalid',
      parameters: { image: 'r:5000/ns/app:1', registry_user: 'builder', registry_password: PASSWORD, verify_tls: true },
    };
    assert.equal(
      refusalReason(403, body, [PASSWORD]),
      '403 credentials refused (There was an error accessing the image as the username/password provided was invalid)',
    );
  });

  it('uses connexion problem details when there is no error field', () => {
    const body = { type: 'about:blank', title: 'Bad Request', status: 400, detail: 'Extra query parameter(s) foo not in spec' };
    assert.equal(refusalReason(400, body, []), '400 rejected (Extra query parameter(s) foo not in spec)');
  });

  it('falls back to the status alone for bodies without text', () => {
    assert.equal(refusalReason(404, '<html>nope</html>', []), '404 not found');
    assert.equal(refusalReason(418, { error: '   ' }, []), '418 client error');
  });

  it('scrubs every form of a credential the server echoes in its text, form-urlencoded and base64 included', () => {
    const forms = [PASSWORD, encodeURIComponent(PASSWORD), new URLSearchParams({ p: PASSWORD }).toString().slice(2), JSON.stringify(PASSWORD).slice(1, -1), Buffer.from(PASSWORD).toString('base64')];
    for (const form of forms) {
      const reason = refusalReason(400, { error: `bad --creds=builder:${form} for image` }, [PASSWORD]);
      assert.ok(!reason.includes(form), reason);
      assert.ok(!reason.includes('Zm9vYmFyYmF6'), reason);
      assert.match(reason, /^400 rejected \(bad --creds=builder:\[REDACTED\]/);
    }
  });

  it('withholds the text when a short secret appears in it', () => {
    assert.equal(refusalReason(403, { error: 'user abc refused' }, ['abc']), '403 credentials refused (details withheld)');
  });

  it('redacts secret-shaped text it was not told about', () => {
    const reason = refusalReason(400, { error: 'failed: registry_password=hunter22&x=1 Authorization: Bearer eyJabc.def' }, []);
    assert.ok(!reason.includes('hunter22'), reason);
    assert.ok(!reason.includes('eyJabc'), reason);
  });

  it('truncates long text to one line', () => {
    const reason = refusalReason(400, { error: `first\nsecond\t${'z'.repeat(1000)}` }, []);
    assert.ok(!reason.includes('\n'));
    assert.ok(reason.length < 240, String(reason.length));
    assert.ok(reason.startsWith('400 rejected (first second zzz'));
  });
});

describe('refusalReason without secrets in the text', () => {
  it('leaves the text alone', () => {
    assert.equal(refusalReason(404, { error: 'Unknown manifest for the given image' }, ['longsecretvalue']), '404 not found (Unknown manifest for the given image)');
  });
});

describe('refusalReason of a body with control characters', () => {
  it('says it on one printable line', () => {
    assert.equal(refusalReason(400, { error: 'a\u0000b\r\nc\u001b[31m' }, []), '400 rejected (a b c [31m)');
  });
});

describe('refusedImage', () => {
  it('reads the echoed image', () => {
    assert.equal(refusedImage({ error: 'x', parameters: { image: 'r/a:1' } }), 'r/a:1');
    assert.equal(refusedImage({ error: 'No base, output nor build log provided' }), undefined);
  });
});

describe('transportCode', () => {
  it('prefers the innermost specific code and never reads the message', () => {
    const error = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1 https://x/?registry_password=p'), {
      code: 'ERR_NETWORK',
      cause: Object.assign(new Error('inner'), { code: 'ECONNREFUSED' }),
    });
    assert.equal(transportCode(error), 'ECONNREFUSED');
    assert.equal(transportCode({ code: 'ECONNRESET' }), 'ECONNRESET');
    assert.equal(transportCode(new Error('x')), 'network error');
    assert.equal(transportCode({ code: 'lower case?' }), 'network error');
  });
});
