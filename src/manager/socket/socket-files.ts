// The file system entries a socket unit leaves behind while it listens: the Symlinks= links it
// makes, and, for RemoveOnStop=yes, the removal of those links and of the nodes its ports occupy
// (unix socket files, FIFOs, message queues). Only what this manager made goes: every entry is
// checked to be the very node it made (device and inode; a link must also still point where it
// was pointed) before it is unlinked, so a file someone put at a Symlinks= path, or a node
// replaced while the manager ran, is never deleted.

import { lstatSync, mkdirSync, readlinkSync, symlinkSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type { NodeIdentity } from '../../net/open.js';
import { O_CLOEXEC, O_NONBLOCK, O_RDONLY } from '../../sys/constants.js';
import { fstat, mqOpen, mqUnlink } from '../../sys/fs.js';
import { closeQuietly } from '../../sys/socket.js';
import { fsPath, type MadeLink, type Port } from './port.js';

/**
 * Make each of `links` point at the first file system port of `ports` and remember the link on
 * that port. A stale link (a previous run's) is replaced; anything else at the path stays and is
 * reported through `warn`, as systemd warns and goes on.
 */
export function createSymlinks(
  ports: Port[],
  links: readonly string[],
  warn: (message: string) => void,
): void {
  const port = ports.find((p) => fsPath(p.spec) !== undefined);
  const target = port ? fsPath(port.spec) : undefined;
  if (!port || !target) return;
  for (const link of links) {
    try {
      mkdirSync(dirname(link), { recursive: true });
      try {
        if (lstatSync(link).isSymbolicLink()) unlinkSync(link);
      } catch {}
      symlinkSync(target, link);
      const st = lstatSync(link, { bigint: true });
      port.links.push({ path: link, target, dev: st.dev, ino: st.ino });
    } catch (err) {
      warn(`Failed to create symlink ${link} -> ${target}: ${(err as Error).message}`);
    }
  }
}

/** RemoveOnStop=yes: remove the links and nodes of `ports` that are still the ones made. */
export function removeOwnFiles(ports: readonly Port[]): void {
  for (const port of ports) {
    for (const link of port.links) if (isSameLink(link)) unlinkQuietly(link.path);
    port.links = [];
    const node = port.node;
    if (!node) continue;
    const path = fsPath(port.spec);
    if (path !== undefined && isSameNode(path, node)) unlinkQuietly(path);
    if (port.spec.kind === 'mqueue' && isSameQueue(port.spec.name, node)) {
      try {
        mqUnlink(port.spec.name);
      } catch {}
    }
  }
}

function same(a: NodeIdentity, b: NodeIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

function isSameLink(link: MadeLink): boolean {
  try {
    const st = lstatSync(link.path, { bigint: true });
    return st.isSymbolicLink() && same(st, link) && readlinkSync(link.path) === link.target;
  } catch {
    return false;
  }
}

function isSameNode(path: string, node: NodeIdentity): boolean {
  try {
    return same(lstatSync(path, { bigint: true }), node);
  } catch {
    return false;
  }
}

/** A queue has no path to lstat (without /dev/mqueue mounted): open it by name and compare. */
function isSameQueue(name: string, node: NodeIdentity): boolean {
  let fd: number;
  try {
    fd = mqOpen(name, O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0);
  } catch {
    return false;
  }
  try {
    return same(fstat(fd), node);
  } catch {
    return false;
  } finally {
    closeQuietly(fd);
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {}
}
