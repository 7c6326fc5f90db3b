// A file in memory holding given bytes, read from its start: what a service gets on stdin with
// StandardInput=data (systemd's acquire_data_fd() makes the same kind of fd).

import { writeSync } from 'node:fs';
import { libcCalls as c } from './ffi.js';
import { check, closeQuietly, type Fd } from './socket.js';

const MFD_CLOEXEC = 0x1;

/** A close-on-exec memfd with `data`, its offset at 0 (pwrite leaves the offset alone). */
export function dataFd(name: string, data: Uint8Array): Fd {
  const fd = check(c.memfd_create(name, MFD_CLOEXEC), 'memfd_create');
  try {
    let done = 0;
    while (done < data.length) done += writeSync(fd, data, done, data.length - done, done);
    return fd;
  } catch (err) {
    closeQuietly(fd);
    throw err;
  }
}
