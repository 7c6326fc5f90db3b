// A service's file descriptor store (FDSTORE=1): fds a service hands to the manager so they
// survive its restart, passed back after the unit's own sockets on the next start with their
// FDNAME= names (`stored` by default), as systemd does (socket-units.md §5.4).

import { fstat } from '../../sys/fs.js';
import { closeQuietly, type Fd } from '../../sys/socket.js';

export interface StoredFd {
  fd: Fd;
  name: string;
}

/** The FileDescriptorName= rules: 1..255 printable ASCII, no `:`. */
export function isValidFdName(name: string): boolean {
  return name.length > 0 && name.length <= 255 && /^[\x21-\x7e]+$/.test(name) && !name.includes(':');
}

function identity(fd: Fd): string | undefined {
  try {
    const st = fstat(fd);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

export class FdStore {
  private readonly entries: (StoredFd & { id: string | undefined })[] = [];
  max: number;

  constructor(max: number) {
    this.max = max;
  }

  get size(): number {
    return this.entries.length;
  }

  list(): readonly StoredFd[] {
    return this.entries.map(({ fd, name }) => ({ fd, name }));
  }

  /** Keep `fd` under `name`. Returns why not when it is refused (the fd is then closed). The same
   * open file twice is stored once, as systemd drops duplicates. */
  add(fd: Fd, name = 'stored'): 'stored' | 'duplicate' | 'full' | 'disabled' | 'bad-name' {
    if (this.max <= 0) {
      closeQuietly(fd);
      return 'disabled';
    }
    if (!isValidFdName(name)) {
      closeQuietly(fd);
      return 'bad-name';
    }
    const id = identity(fd);
    if (id !== undefined && this.entries.some((e) => e.id === id)) {
      closeQuietly(fd);
      return 'duplicate';
    }
    if (this.entries.length >= this.max) {
      closeQuietly(fd);
      return 'full';
    }
    this.entries.push({ fd, name, id });
    return 'stored';
  }

  /** FDSTOREREMOVE=1 with FDNAME=: close every fd stored under `name`. */
  remove(name: string): number {
    let removed = 0;
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!;
      if (e.name !== name) continue;
      closeQuietly(e.fd);
      this.entries.splice(i, 1);
      removed++;
    }
    return removed;
  }

  clear(): void {
    for (const e of this.entries) closeQuietly(e.fd);
    this.entries.length = 0;
  }
}
