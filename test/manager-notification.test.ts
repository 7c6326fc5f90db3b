// An sd_notify message as the service unit reads it (notification.ts): which fields count and in
// which form, MAINPID='s range, and what FDSTORE=1 / FDSTOREREMOVE=1 do with real fds in a real
// fd store, each outcome with the warning a user reads.

import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { Logger, type LogRecord } from '../src/manager/log.js';
import { FdStore } from '../src/manager/service/fd-store.js';
import { applyFdStore, parseMainPid, readNotification } from '../src/manager/service/notification.js';
import { parseNotifyText } from '../src/manager/service/notify-socket.js';
import { AF_UNIX, SOCK_DGRAM } from '../src/sys/constants.js';
import { replaceFd } from '../src/sys/dup.js';
import { type Fd, isOpen, socket } from '../src/sys/socket.js';

const UNIT = 'app.service';

function read(text: string) {
  return readNotification(parseNotifyText(text));
}

/** A logger at debug level whose records the test reads. */
function recordingLogger(): { log: Logger; records: LogRecord[] } {
  const log = new Logger({ out: new PassThrough(), level: 'debug' });
  const records: LogRecord[] = [];
  log.subscribe((r) => records.push(r));
  return { log, records };
}

function openFds(n: number): Fd[] {
  return Array.from({ length: n }, () => socket(AF_UNIX, SOCK_DGRAM, 0));
}

describe('readNotification: the fields a service unit acts on', () => {
  it('a bare READY=1 is ready and nothing else', () => {
    assert.deepEqual(read('READY=1'), {
      ready: true,
      reloading: false,
      stopping: false,
      fdStore: false,
      fdStoreRemove: false,
    });
  });

  it('the flags count only as =1, as systemd compares the whole tag', () => {
    assert.deepEqual(read('READY=0\nRELOADING=yes\nSTOPPING=true\nFDSTORE=2\nFDSTOREREMOVE=on'), {
      ready: false,
      reloading: false,
      stopping: false,
      fdStore: false,
      fdStoreRemove: false,
    });
    const all = read('RELOADING=1\nSTOPPING=1\nFDSTORE=1\nFDSTOREREMOVE=1');
    assert.deepEqual(
      [all.ready, all.reloading, all.stopping, all.fdStore, all.fdStoreRemove],
      [false, true, true, true, true],
    );
  });

  it('MAINPID=, STATUS= and FDNAME= are passed on as sent; an empty STATUS= clears the status', () => {
    assert.deepEqual(read('MAINPID=abc\nSTATUS=\nFDNAME=web'), {
      ready: false,
      reloading: false,
      stopping: false,
      fdStore: false,
      fdStoreRemove: false,
      mainPid: 'abc',
      status: '',
      fdName: 'web',
    });
  });

  it('ERRNO= is kept only as a number', () => {
    assert.equal(read('ERRNO=5').errno, 5);
    assert.equal(read('ERRNO=0').errno, 0);
    assert.equal(read('ERRNO=110').errno, 110);
    for (const bad of ['', 'EIO', '-5', '5x', '1234567890'])
      assert.equal('errno' in read(`ERRNO=${bad}`), false, bad);
  });

  it('EXTEND_TIMEOUT_USEC= and WATCHDOG_USEC= are kept when positive microsecond counts', () => {
    const n = read('EXTEND_TIMEOUT_USEC=5000000\nWATCHDOG_USEC=250000');
    assert.equal(n.extendTimeoutUsec, 5_000_000);
    assert.equal(n.watchdogUsec, 250_000);
    for (const bad of ['0', '', '1s', '-1']) {
      const m = read(`EXTEND_TIMEOUT_USEC=${bad}\nWATCHDOG_USEC=${bad}`);
      assert.equal('extendTimeoutUsec' in m, false, bad);
      assert.equal('watchdogUsec' in m, false, bad);
    }
  });

  it('WATCHDOG=1 pings, WATCHDOG=trigger fires, anything else is no watchdog message', () => {
    assert.equal(read('WATCHDOG=1').watchdog, 'ping');
    assert.equal(read('WATCHDOG=trigger').watchdog, 'trigger');
    assert.equal('watchdog' in read('WATCHDOG=0'), false);
    assert.equal('watchdog' in read('WATCHDOG=Trigger'), false);
  });
});

describe('parseMainPid: a pid the manager may follow', () => {
  it('takes a decimal pid above 1', () => {
    assert.equal(parseMainPid('2'), 2);
    assert.equal(parseMainPid('4194304'), 4_194_304);
  });

  it('refuses 0, 1 (the manager of the whole system), signs, spaces, and more than 10 digits', () => {
    for (const bad of ['', '0', '1', '-5', '+5', ' 5', '5 ', '0x10', '1e3', '12345678901'])
      assert.equal(parseMainPid(bad), undefined, JSON.stringify(bad));
  });
});

describe('applyFdStore: FDSTORE=1 and FDSTOREREMOVE=1 with real fds', () => {
  it('FDSTORE=1 without FDNAME= stores every fd as "stored" and takes them from the message', () => {
    const store = new FdStore(4);
    const { log, records } = recordingLogger();
    const fds = openFds(2);
    const [a, b] = fds as [Fd, Fd];
    applyFdStore(read('FDSTORE=1'), fds, store, log, UNIT);
    assert.deepEqual(fds, []);
    assert.deepEqual(store.list(), [
      { fd: a, name: 'stored' },
      { fd: b, name: 'stored' },
    ]);
    assert.ok(isOpen(a) && isOpen(b));
    assert.deepEqual(
      records.map((r) => [r.level, r.unit, r.message]),
      [
        ['debug', UNIT, `${UNIT}: Stored fd ${a} as stored.`],
        ['debug', UNIT, `${UNIT}: Stored fd ${b} as stored.`],
      ],
    );
    store.clear();
  });

  it('FDSTORE=1 with FDNAME= stores under that name; FDSTOREREMOVE=1 closes every fd of the name', () => {
    const store = new FdStore(4);
    const { log, records } = recordingLogger();
    const [web] = openFds(1) as [Fd];
    const [db] = openFds(1) as [Fd];
    applyFdStore(read('FDSTORE=1\nFDNAME=web'), [web], store, log, UNIT);
    applyFdStore(read('FDSTORE=1\nFDNAME=db'), [db], store, log, UNIT);
    records.length = 0;
    applyFdStore(read('FDSTOREREMOVE=1\nFDNAME=web'), [], store, log, UNIT);
    assert.deepEqual(store.list(), [{ fd: db, name: 'db' }]);
    assert.equal(isOpen(web), false);
    assert.deepEqual(
      records.map((r) => [r.level, r.message]),
      [['debug', `${UNIT}: Removed 1 stored fd(s) named web.`]],
    );
    store.clear();
  });

  it('FDSTOREREMOVE=1 without FDNAME= removes nothing and says why', () => {
    const store = new FdStore(4);
    const { log, records } = recordingLogger();
    const [fd] = openFds(1) as [Fd];
    applyFdStore(read('FDSTORE=1'), [fd], store, log, UNIT);
    records.length = 0;
    applyFdStore(read('FDSTOREREMOVE=1'), [], store, log, UNIT);
    assert.equal(store.size, 1);
    assert.ok(isOpen(fd));
    assert.deepEqual(
      records.map((r) => [r.level, r.unit, r.message]),
      [['warning', UNIT, `${UNIT}: FDSTOREREMOVE=1 without FDNAME=; nothing removed.`]],
    );
    store.clear();
  });

  it('fds that come without FDSTORE=1 are closed, with a warning that counts them', () => {
    const store = new FdStore(4);
    const { log, records } = recordingLogger();
    const fds = openFds(2);
    const copy = [...fds];
    applyFdStore(read('READY=1'), fds, store, log, UNIT);
    assert.equal(store.size, 0);
    for (const fd of copy) assert.equal(isOpen(fd), false);
    assert.deepEqual(
      records.map((r) => [r.level, r.unit, r.message]),
      [['warning', UNIT, `${UNIT}: Got 2 fd(s) without FDSTORE=1; closing them.`]],
    );
  });

  it('FDSTORE=1 with no fds attached logs nothing', () => {
    const store = new FdStore(4);
    const { log, records } = recordingLogger();
    applyFdStore(read('FDSTORE=1\nFDNAME=web'), [], store, log, UNIT);
    assert.equal(store.size, 0);
    assert.deepEqual(records, []);
  });

  it('FileDescriptorStoreMax=0 closes the fd and says which setting keeps it', () => {
    const store = new FdStore(0);
    const { log, records } = recordingLogger();
    const [fd] = openFds(1) as [Fd];
    applyFdStore(read('FDSTORE=1'), [fd], store, log, UNIT);
    assert.equal(store.size, 0);
    assert.equal(isOpen(fd), false);
    assert.deepEqual(
      records.map((r) => [r.level, r.unit, r.message]),
      [
        [
          'warning',
          UNIT,
          `${UNIT}: FDSTORE=1 but FileDescriptorStoreMax=0; fd closed. Set FileDescriptorStoreMax= to keep fds.`,
        ],
      ],
    );
  });

  it('a full store keeps the first fds and closes the rest, naming its limit', () => {
    const store = new FdStore(1);
    const { log, records } = recordingLogger();
    const fds = openFds(2);
    const [kept, dropped] = fds as [Fd, Fd];
    applyFdStore(read('FDSTORE=1'), fds, store, log, UNIT);
    assert.deepEqual(store.list(), [{ fd: kept, name: 'stored' }]);
    assert.equal(isOpen(dropped), false);
    assert.deepEqual(
      records.map((r) => [r.level, r.message]),
      [
        ['debug', `${UNIT}: Stored fd ${kept} as stored.`],
        ['warning', `${UNIT}: fd store full (FileDescriptorStoreMax=1); fd closed.`],
      ],
    );
    store.clear();
  });
});

describe('applyFdStore: FDNAME= and duplicates as systemd treats them', () => {
  it('an invalid FDNAME= is ignored with a warning: the fds are stored under the default name', () => {
    const store = new FdStore(4);
    const { log, records } = recordingLogger();
    const [fd] = openFds(1) as [Fd];
    applyFdStore(read('FDSTORE=1\nFDNAME=a:b'), [fd], store, log, UNIT);
    assert.deepEqual(store.list(), [{ fd, name: 'stored' }]);
    assert.deepEqual(
      records.map((r) => [r.level, r.message]),
      [
        ['warning', `${UNIT}: FDNAME="a:b" is not a valid fd name; using "stored".`],
        ['debug', `${UNIT}: Stored fd ${fd} as stored.`],
      ],
    );
    store.clear();
  });

  it('the same open file twice is stored once and the copy closed, without a warning', () => {
    const store = new FdStore(4);
    const { log, records } = recordingLogger();
    const [fd, copy] = openFds(2) as [Fd, Fd];
    replaceFd(copy, fd);
    applyFdStore(read('FDSTORE=1'), [fd, copy], store, log, UNIT);
    assert.deepEqual(store.list(), [{ fd, name: 'stored' }]);
    assert.equal(isOpen(copy), false);
    assert.deepEqual(
      records.map((r) => r.level),
      ['debug'],
    );
    store.clear();
  });
});
