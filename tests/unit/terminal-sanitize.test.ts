import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LogSanitizer, sanitizeLog } from '../../app/lib/run/log-sanitize.ts';

const ESC = '\x1b';

test('"all tests passed" cannot replace an earlier "error" line', () => {
  const attacks = [
    `error: 3 tests failed\n${ESC}[1A${ESC}[2Kall tests passed\n`,
    `error: 3 tests failed\n${ESC}[2J${ESC}[Hall tests passed\n`,
    `error: 3 tests failed\n${ESC}[1F${ESC}[Kall tests passed\n`,
    `error: 3 tests failed\n${ESC}[s${ESC}[1;1H${ESC}[0Jall tests passed${ESC}[u\n`,
    `error: 3 tests failed\n${ESC}7${ESC}M${ESC}Mall tests passed${ESC}8\n`,
    `error: 3 tests failed\n${ESC}call tests passed\n`,
    `error: 3 tests failed\n${ESC}[?1049hall tests passed\n`,
    `error: 3 tests failed\n\x9b1A\x9b2Kall tests passed\n`,
  ];
  for (const attack of attacks) {
    const shown = sanitizeLog(attack);
    assert.equal(shown, 'error: 3 tests failed\nall tests passed\n', JSON.stringify(attack));
  }
});

test('a bare carriage return or backspaces cannot overwrite the line they are on', () => {
  assert.equal(sanitizeLog('error: failed\rall tests passed   \n'), 'error: failed\nall tests passed   \n');
  assert.equal(sanitizeLog('FAIL\b\b\b\bPASS\n'), 'FAILPASS\n');
  assert.equal(sanitizeLog('progress 10%\rprogress 50%\rprogress 100%\r\n'), 'progress 10%\nprogress 50%\nprogress 100%\n');
  assert.equal(sanitizeLog('windows\r\nline\r\r\nend'), 'windows\nline\nend');
});

test('colours (SGR) are kept; everything else that steers the terminal is dropped', () => {
  const coloured = `${ESC}[31merror${ESC}[0m ${ESC}[1;38;2;255;0;0mbold red${ESC}[m ${ESC}[38:5:208morange${ESC}[39m\n`;
  assert.equal(sanitizeLog(coloured), coloured);
  assert.equal(sanitizeLog(`a${ESC}[?25lb${ESC}[>4;1mc${ESC}[3 qd\n`), 'abcd\n', 'private and intermediate CSI dropped, even ending in m');
  assert.equal(
    sanitizeLog(`${ESC}]0;owned title${'\x07'}${ESC}]8;;https://evil.example${ESC}\\click${ESC}]8;;${ESC}\\ here\n`),
    'click here\n',
    'OSC titles and hyperlinks',
  );
  assert.equal(sanitizeLog(`${ESC}P1$r${ESC}\\${ESC}_apc${ESC}\\${ESC}^pm${ESC}\\${ESC}Xsos${ESC}\\text\n`), 'text\n', 'DCS, APC, PM, SOS');
  assert.equal(sanitizeLog(`${ESC}#8${ESC}(0lqk${ESC}(B\n`), 'lqk\n', 'DECALN and charset switches');
  assert.equal(sanitizeLog('bell\x07 shift\x0e\x0f ff\x0c vt\x0b del\x7f nul\x00\ttab\n'), 'bell shift ff vt del nul\ttab\n');
  assert.equal(sanitizeLog('naïve ☃ 𝄞 日本\n'), 'naïve ☃ 𝄞 日本\n');
});

test('sequences split across chunk boundaries are recognised whole', () => {
  const text = `ok\n${ESC}[31mred${ESC}[0m\nerror\n${ESC}[1A${ESC}[2Kfine\r\n${ESC}]0;title${ESC}\\done\r`;
  const whole = sanitizeLog(text);
  assert.equal(whole, `ok\n${ESC}[31mred${ESC}[0m\nerror\nfine\ndone`);
  for (let size = 1; size <= 7; size += 1) {
    const sanitizer = new LogSanitizer();
    let shown = '';
    for (let at = 0; at < text.length; at += size) shown += sanitizer.push(text.slice(at, at + size));
    assert.equal(shown, whole, `chunks of ${size}`);
  }
  const sanitizer = new LogSanitizer();
  assert.equal(sanitizer.push(`line\r`), 'line', 'a trailing \\r waits for the next chunk');
  assert.equal(sanitizer.push('\nnext'), '\nnext');
  assert.equal(sanitizer.push(`${ESC}[3`), '');
  assert.equal(sanitizer.push('2mgreen?'), `${ESC}[32mgreen?`);
});

test('an endless escape sequence neither grows without bound nor swallows later lines for ever', () => {
  const sanitizer = new LogSanitizer();
  assert.equal(sanitizer.push(`${ESC}[${'1;'.repeat(10_000)}`), '');
  assert.equal(sanitizer.push('mvisible\n'), 'visible\n', 'an over-long CSI is dropped at its final byte');
  assert.equal(sanitizer.push(`${ESC}]${'x'.repeat(100_000)}`), '');
  assert.equal(sanitizer.push(`${'\x07'}after\n`), 'after\n');
});

test('a large plain log passes unchanged and quickly', () => {
  const line = `${ESC}[32m✓${ESC}[0m test number 12345 passed in 3 ms\n`;
  const big = line.repeat(50_000);
  const started = performance.now();
  assert.equal(sanitizeLog(big), big);
  assert.ok(performance.now() - started < 5000, 'sanitizing 2.5 MB took too long');
});
