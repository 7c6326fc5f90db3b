// RemoveOnStop=yes removes only what this manager created: the socket files, FIFOs and message
// queues it opened and the symlinks it made, each checked to be the very node (device and inode;
// for a link, also where it points) before it goes. A Symlinks= path that names someone's file,
// or a node replaced while the manager ran, is left alone.

import assert from 'node:assert/strict';
import {
  existsSync,
  lstatSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { O_CREAT, O_RDONLY } from '../src/sys/constants.js';
import { mqOpen, mqUnlink } from '../src/sys/fs.js';
import { closeQuietly } from '../src/sys/socket.js';
import { managerSuite } from './fixtures/manager/harness.js';
import { messageQueueExists } from './helpers/mqueue.js';

const QUIET_SERVICE = '[Service]\nExecStart=/bin/true\n';

describe('RemoveOnStop=yes removes only what the manager created', () => {
  const suite = managerSuite('remove-on-stop');

  test('a Symlinks= path naming an existing file: warned at start, and the file survives the stop', async () => {
    const m = await suite.start((dir) => {
      writeFileSync(join(dir, 'precious'), 'keep me\n');
      return {
        'p.socket': `[Socket]\nListenStream=${dir}/p.sock\nSymlinks=${dir}/precious\nRemoveOnStop=yes\n`,
        'p.service': QUIET_SERVICE,
      };
    });
    await m.waitFor(/^p\.socket: Failed to create symlink .*precious -> .*p\.sock: EEXIST/);
    const { code } = await m.stop('SIGTERM');
    assert.equal(code, 0, m.log);
    assert.equal(readFileSync(join(m.dir, 'precious'), 'utf8'), 'keep me\n', 'the file is untouched');
    assert.equal(existsSync(join(m.dir, 'p.sock')), false, 'the socket file the manager made is gone');
  });

  test('nodes replaced while the manager ran are left alone; its own are removed', async () => {
    const mq = `/sockunit-rm-${process.pid}`;
    const theirs = `/sockunit-rm-theirs-${process.pid}`;
    const m = await suite.start((dir) => ({
      'a.socket': `[Socket]\nListenStream=${dir}/a.sock\nSymlinks=${dir}/a.link\nRemoveOnStop=yes\n`,
      'a.service': QUIET_SERVICE,
      'b.socket': `[Socket]\nListenFIFO=${dir}/b.fifo\nRemoveOnStop=yes\n`,
      'b.service': QUIET_SERVICE,
      'c.socket': `[Socket]\nListenMessageQueue=${mq}\nRemoveOnStop=yes\n`,
      'c.service': QUIET_SERVICE,
      'd.socket': `[Socket]\nListenStream=${dir}/d.sock\nSymlinks=${dir}/d.link\nRemoveOnStop=yes\n`,
      'd.service': QUIET_SERVICE,
    }));
    const at = (name: string) => join(m.dir, name);
    try {
      assert.equal(readlinkSync(at('a.link')), at('a.sock'), 'Symlinks= made the link');
      assert.ok(lstatSync(at('b.fifo')).isFIFO());
      // Someone else's files now stand where the manager's were.
      unlinkSync(at('a.sock'));
      writeFileSync(at('a.sock'), 'not a socket\n');
      unlinkSync(at('a.link'));
      symlinkSync(at('elsewhere'), at('a.link'));
      unlinkSync(at('b.fifo'));
      writeFileSync(at('b.fifo'), 'not a fifo\n');
      mqUnlink(mq);
      closeQuietly(mqOpen(mq, O_RDONLY | O_CREAT, 0o600));
      closeQuietly(mqOpen(theirs, O_RDONLY | O_CREAT, 0o600));

      const { code } = await m.stop('SIGTERM');
      assert.equal(code, 0, m.log);
      assert.equal(readFileSync(at('a.sock'), 'utf8'), 'not a socket\n');
      assert.equal(readlinkSync(at('a.link')), at('elsewhere'), 'a link the manager did not make stays');
      assert.equal(readFileSync(at('b.fifo'), 'utf8'), 'not a fifo\n');
      assert.equal(messageQueueExists(mq), true, 'a queue of the same name but not the one it opened stays');
      assert.equal(messageQueueExists(theirs), true);
      // The control: d.socket's own socket file and link are removed.
      assert.equal(existsSync(at('d.sock')), false, 'its own socket file is removed');
      assert.throws(() => lstatSync(at('d.link')), { code: 'ENOENT' }, 'its own link is removed');
    } finally {
      for (const name of [mq, theirs]) {
        try {
          mqUnlink(name);
        } catch {}
      }
    }
  });
});
