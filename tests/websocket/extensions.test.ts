import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseExtensionList, parsePerMessageDeflate } from '../../src/websocket/extensions.ts';

const defaults = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };

describe('permessage-deflate settings from the 101 response', () => {
  test('no header, an empty one, or other extensions only: nothing was agreed', () => {
    assert.equal(parsePerMessageDeflate(undefined), null);
    assert.equal(parsePerMessageDeflate(''), null);
    assert.equal(parsePerMessageDeflate('x-webkit-deflate-frame'), null);
  });

  test('the bare extension means context takeover both ways and full windows', () => {
    assert.deepEqual(parsePerMessageDeflate('permessage-deflate'), defaults);
  });

  test('every RFC 7692 response parameter is read', () => {
    const header = 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9';
    assert.deepEqual(parsePerMessageDeflate(header), {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 9,
    });
  });

  test('what the ws server answers its own client is read (client_max_window_bits with a value)', () => {
    assert.deepEqual(parsePerMessageDeflate('permessage-deflate; client_max_window_bits=15'), defaults);
  });

  test('quoted values are unquoted and unescaped (RFC 6455 §9.1)', () => {
    assert.equal(parsePerMessageDeflate('permessage-deflate; server_max_window_bits="12"')?.serverMaxWindowBits, 12);
    assert.equal(parsePerMessageDeflate('permessage-deflate; server_max_window_bits="1\\2"')?.serverMaxWindowBits, 12);
  });

  test('whitespace around separators and empty list elements are allowed', () => {
    assert.deepEqual(parsePerMessageDeflate(' , permessage-deflate ;\tserver_no_context_takeover , '), { ...defaults, serverNoContextTakeover: true });
  });

  test('names are matched without regard to case', () => {
    assert.equal(parsePerMessageDeflate('PerMessage-Deflate; Server_No_Context_Takeover')?.serverNoContextTakeover, true);
  });

  test('the first permessage-deflate element counts, after other extensions too', () => {
    const header = 'x-foo; a=1, permessage-deflate; server_no_context_takeover, permessage-deflate';
    assert.equal(parsePerMessageDeflate(header)?.serverNoContextTakeover, true);
  });

  test('several header lines are read as one list', () => {
    assert.equal(parsePerMessageDeflate(['x-foo', 'permessage-deflate; server_max_window_bits=8'])?.serverMaxWindowBits, 8);
  });

  test('window bits from 8 to 15 are accepted; anything else is a response the client must fail', () => {
    for (let bits = 8; bits <= 15; bits++) {
      assert.equal(parsePerMessageDeflate(`permessage-deflate; server_max_window_bits=${bits}`)?.serverMaxWindowBits, bits);
    }
    for (const value of ['7', '16', '08', '010', '9.0', '-9', 'abc', '']) {
      assert.equal(parsePerMessageDeflate(`permessage-deflate; server_max_window_bits=${value}`), null, value);
    }
  });

  test('a response the client must fail the connection for agrees to nothing (RFC 7692 §7.1)', () => {
    const invalid = [
      'permessage-deflate; unknown_param', // a parameter not defined for responses
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover', // repeated
      'permessage-deflate; server_no_context_takeover=1', // a value where none is allowed
      'permessage-deflate; client_max_window_bits', // only an offer may omit the value
      'permessage-deflate; server_max_window_bits', // a value is required
    ];
    for (const header of invalid) assert.equal(parsePerMessageDeflate(header), null, header);
  });

  test('a header that breaks the grammar agrees to nothing', () => {
    const broken = ['permessage-deflate;', 'permessage-deflate; =1', 'permessage-deflate; a="1', 'permessage-deflate; a="1 2"', 'permessage-deflate; a=""', 'perm@ssage', 'permessage-deflate x'];
    for (const header of broken) assert.equal(parsePerMessageDeflate(header), null, header);
  });
});

describe('the extension list grammar', () => {
  test('elements, parameters and values are read in order', () => {
    assert.deepEqual(parseExtensionList('a; b; c=1, d; e="f"'), [
      { name: 'a', params: [{ name: 'b', value: true }, { name: 'c', value: '1' }] },
      { name: 'd', params: [{ name: 'e', value: 'f' }] },
    ]);
  });

  test('a quoted value must be a token once unescaped', () => {
    assert.equal(parseExtensionList('a; b="x,y"'), null);
    assert.deepEqual(parseExtensionList('a; b="x\\y"'), [{ name: 'a', params: [{ name: 'b', value: 'xy' }] }]);
  });
});
