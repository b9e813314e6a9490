// The snippet texts without a browser: quoting survives hostile values, and the
// sample request is guessed from a token's first line only when it is a plain path.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

import { sampleRequest, shellQuote, snippets } from '../../web/snippets.js';

test('shell quoting keeps every character', () => {
  for (const text of ["it's", "a'b'c", '$(rm -rf /) `x` "y" \\ \n', 'plain']) {
    assert.equal(execFileSync('bash', ['-c', `printf %s ${shellQuote(text)}`], { encoding: 'utf8' }), text);
  }
});

test('the sample request follows a plain first line, else a default', () => {
  assert.deepEqual(sampleRequest('[post].*/rest/api/space/EXTENDER/property.*'), { method: 'POST', path: '/rest/api/space/EXTENDER/property' });
  assert.deepEqual(sampleRequest('.*/rest/api/space.*<br>[get].*/x'), { method: 'GET', path: '/rest/api/space' });
  assert.deepEqual(sampleRequest('https://wiki.example.com/rest/extender/.*'), { method: 'GET', path: '/rest/extender/' });
  assert.deepEqual(sampleRequest('.*/rest/api/content[QueryParam::expand==body.*]'), { method: 'GET', path: '/rest/api/content' });
  assert.deepEqual(sampleRequest('.*/rest/(api|extender)/.*'), { method: 'GET', path: '/rest/api/space' });
  assert.deepEqual(sampleRequest(''), { method: 'GET', path: '/rest/api/space' });
});

test('every snippet names the URL, the user and the token', () => {
  const all = snippets({ base: 'https://gw.example.com/', path: '/rest/api/space', method: 'post', user: 'jan', token: "tgk_a'b" });
  assert.deepEqual(all.map((s) => s.id), ['curl', 'fetch', 'python', 'postman']);
  for (const snippet of all) {
    assert.ok(snippet.text.includes('https://gw.example.com/rest/api/space'), snippet.text);
    assert.ok(snippet.text.includes('jan'), snippet.text);
  }
  assert.match(all[0].text, /^curl -s -u 'jan:tgk_a'\\''b' -X POST -H 'Content-Type: application\/json' --data '\{\}' /);
  assert.match(all[2].text, /json=\{\}/);
});
