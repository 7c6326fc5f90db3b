import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { Logger } from '../src/manager/log.js';

function logger(options: { keepPerUnit?: number; keepUnits?: number; format?: 'text' | 'json' } = {}) {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d) => {
    text += d;
  });
  return { log: new Logger({ out, ...options }), text: () => text };
}

test('text lines look like systemd’s; service output is prefixed unit[pid]:', () => {
  const { log, text } = logger();
  log.info('Listening on echo.socket (MPTCP 0.0.0.0:8080).', 'echo.socket');
  log.warning('Main process exited, code=exited, status=1/FAILURE', 'echo.service');
  log.output('echo.service', 42, 'hello');
  assert.equal(
    text(),
    'Listening on echo.socket (MPTCP 0.0.0.0:8080).\n' +
      'echo.service: Main process exited, code=exited, status=1/FAILURE\n' +
      'echo.service[42]: hello\n',
  );
});

test('json format: one parseable object a line, with unit, level and fields', () => {
  const { log, text } = logger({ format: 'json' });
  log.error('Failed with result resources.', 'a.socket', { result: 'resources' });
  const record = JSON.parse(text().trim());
  assert.equal(record.level, 'error');
  assert.equal(record.unit, 'a.socket');
  assert.deepEqual(record.fields, { result: 'resources' });
  assert.ok(!Number.isNaN(Date.parse(record.time)));
});

test('history is bounded per unit and in units: Accept=yes instances cannot grow it without end', () => {
  const { log } = logger({ keepPerUnit: 3, keepUnits: 100 });
  for (let i = 0; i < 10; i++) log.info(`line ${i}`, 'web.socket');
  assert.deepEqual(
    log.recentFor('web.socket').map((r) => r.message),
    ['line 7', 'line 8', 'line 9'],
  );
  for (let i = 0; i < 1000; i++) log.info('Started.', `echo@${i}-1-127.0.0.1:7-127.0.0.1:${i}.service`);
  assert.equal(log.unitsKept, 100);
  assert.equal(log.recentFor('echo@0-1-127.0.0.1:7-127.0.0.1:0.service').length, 0, 'oldest dropped');
  assert.equal(log.recentFor('echo@999-1-127.0.0.1:7-127.0.0.1:999.service').length, 1);
  assert.equal(log.recentFor('web.socket').length, 0, 'web.socket had not logged for 1000 units');
});

test('records below the level are dropped unless someone follows: then they are kept and sent', () => {
  const { log, text } = logger();
  log.debug('a.service: dead -> start', 'a.service');
  log.info('Started a.service.', 'a.service');
  assert.deepEqual(
    log.recentFor('a.service').map((r) => r.message),
    ['Started a.service.'],
    'a debug record at level info is not kept',
  );
  const seen: string[] = [];
  const stop = log.subscribe((r) => seen.push(r.message));
  log.debug('a.service: start -> running', 'a.service');
  stop();
  assert.deepEqual(seen, ['a.service: start -> running'], 'a follower gets it');
  assert.equal(log.recentFor('a.service').length, 2, 'and it is kept while followed');
  assert.equal(text(), 'Started a.service.\n', 'never printed below the level');
});
