// The least a Node process can do per Accept=yes connection, as the prototype of
// shared/spec/spawn.md did it (0.70 ms of CPU per connection on the baseline machine, 0.65x
// systemd-socket-activate): its own listening socket, at most 8 accept4() per wake-up,
// posix_spawn through the LISTEN_PID helper with the connection at fd 3, pidfd reaping. No
// instance names, no logs, no state, no limits. bench/accept.ts runs it beside `sockunit run`
// so the manager's own cost per connection can be read on any machine.
//
// Run: node .test-build/bench/floor-server.js PORT PROGRAM   (stops on SIGTERM)

import {
  AF_INET,
  SO_REUSEADDR,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOL_SOCKET,
} from '../src/sys/constants.js';
import { listenPidWrap } from '../src/sys/listen-pid-helper.js';
import { onExit } from '../src/sys/process.js';
import { accept, bind, closeQuietly, listen, setsockoptInt, socket } from '../src/sys/socket.js';
import { spawnProcess } from '../src/sys/spawn.js';
import { watchReadable } from '../src/sys/watch.js';

const [port, program] = [Number(process.argv[2]), process.argv[3]];
if (!Number.isInteger(port) || !program) {
  console.error('usage: floor-server PORT PROGRAM');
  process.exit(2);
}
const listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
setsockoptInt(listener, SOL_SOCKET, SO_REUSEADDR, 1);
bind(listener, { family: 'inet', address: '127.0.0.1', port });
listen(listener, 4096);
const env = ['PATH=/usr/bin:/bin', 'LISTEN_FDS=1', 'LISTEN_FDNAMES=connection'];
const start = listenPidWrap(program, [program], env);

const watch = watchReadable(listener, () => {
  for (let i = 0; i < 8; i++) {
    const conn = accept(listener);
    if (!conn) break;
    try {
      const child = spawnProcess({ ...start, fds: [conn.fd], stdout: 'null', stderr: 'null', setsid: true });
      void onExit(child.pid, child.pidfd);
    } catch (err) {
      console.error(`floor-server: ${(err as Error).message}`);
    } finally {
      closeQuietly(conn.fd);
    }
  }
  watch.rearm();
});
process.on('SIGTERM', () => process.exit(0));
