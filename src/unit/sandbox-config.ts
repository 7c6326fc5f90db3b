// The sandboxing settings of systemd.exec(5) a service asks for, typed: the file system view
// (PrivateTmp=, ProtectSystem=, …Paths=), the other namespaces (PrivateNetwork=, PrivateIPC=,
// ProtectHostname=…) and the seccomp filters (SystemCallFilter=, RestrictAddressFamilies=…).
// What sockunit makes of them is decided at start (manager/exec/sandbox.ts).

import { constants } from 'node:os';
import { expandSyscallName } from './syscall-groups.js';
import { ValueError } from './values.js';

export type ProtectSystem = 'no' | 'yes' | 'full' | 'strict';
export type ProtectHome = 'no' | 'yes' | 'read-only' | 'tmpfs';
export type ProtectProc = 'default' | 'invisible' | 'ptraceable' | 'noaccess';
export type PrivateTmp = 'no' | 'yes' | 'disconnected';

export interface SandboxPath {
  path: string;
  /** `-` prefix: a missing path is skipped. */
  missingOk: boolean;
}

export interface BindPath {
  source: string;
  destination: string;
  missingOk: boolean;
  /** `rbind` (the default) or `norbind`. */
  recursive: boolean;
}

export interface TemporaryFileSystem {
  path: string;
  /** Mount options after the `:` (`ro`, `mode=0700`…). */
  options: string;
}

/** An allow-list (only these) or a deny-list (`~`: all but these) of names. */
export interface NameList {
  allowList: boolean;
  names: string[];
}

/** SystemCallFilter=: calls (groups expanded later) with an optional per-call errno (`:EPERM`). */
export interface SyscallFilter {
  allowList: boolean;
  /** Name (a call or an `@group`) → errno for it, or undefined for the unit's default action. */
  entries: Map<string, number | undefined>;
}

export interface SandboxContext {
  privateTmp: PrivateTmp;
  protectSystem: ProtectSystem;
  protectHome: ProtectHome;
  readWritePaths: SandboxPath[];
  readOnlyPaths: SandboxPath[];
  inaccessiblePaths: SandboxPath[];
  execPaths: SandboxPath[];
  noExecPaths: SandboxPath[];
  bindPaths: BindPath[];
  bindReadOnlyPaths: BindPath[];
  temporaryFileSystem: TemporaryFileSystem[];
  privateDevices: boolean;
  protectKernelTunables: boolean;
  protectKernelModules: boolean;
  protectKernelLogs: boolean;
  protectControlGroups: boolean;
  protectProc: ProtectProc;
  procSubset: 'all' | 'pid';
  privateMounts: boolean;
  privateNetwork: boolean;
  privateIPC: boolean;
  protectHostname: boolean;
  protectClock: boolean;
  networkNamespacePath?: string;
  ipcNamespacePath?: string;
  systemCallFilter?: SyscallFilter;
  /** Unset: a filtered call kills the process (SIGSYS). */
  systemCallErrorNumber?: number | 'kill' | 'log';
  systemCallArchitectures: string[];
  restrictAddressFamilies?: NameList;
  restrictNamespaces?: NameList;
  restrictRealtime: boolean;
  restrictSUIDSGID: boolean;
  lockPersonality: boolean;
  memoryDenyWriteExecute: boolean;
  /** X-Sockunit-Sandbox=best-effort: run with what the kernel allows, and say what was left out. */
  bestEffort: boolean;
}

export function defaultSandboxContext(): SandboxContext {
  return {
    privateTmp: 'no',
    protectSystem: 'no',
    protectHome: 'no',
    readWritePaths: [],
    readOnlyPaths: [],
    inaccessiblePaths: [],
    execPaths: [],
    noExecPaths: [],
    bindPaths: [],
    bindReadOnlyPaths: [],
    temporaryFileSystem: [],
    privateDevices: false,
    protectKernelTunables: false,
    protectKernelModules: false,
    protectKernelLogs: false,
    protectControlGroups: false,
    protectProc: 'default',
    procSubset: 'all',
    privateMounts: false,
    privateNetwork: false,
    privateIPC: false,
    protectHostname: false,
    protectClock: false,
    systemCallArchitectures: [],
    restrictRealtime: false,
    restrictSUIDSGID: false,
    lockPersonality: false,
    memoryDenyWriteExecute: false,
    bestEffort: false,
  };
}

/** Whether the service needs a mount namespace of its own. */
export function needsMountNamespace(s: SandboxContext): boolean {
  return (
    s.privateTmp !== 'no' ||
    s.protectSystem !== 'no' ||
    s.protectHome !== 'no' ||
    s.readWritePaths.length > 0 ||
    s.readOnlyPaths.length > 0 ||
    s.inaccessiblePaths.length > 0 ||
    s.execPaths.length > 0 ||
    s.noExecPaths.length > 0 ||
    s.bindPaths.length > 0 ||
    s.bindReadOnlyPaths.length > 0 ||
    s.temporaryFileSystem.length > 0 ||
    s.privateDevices ||
    s.protectKernelTunables ||
    s.protectKernelModules ||
    s.protectKernelLogs ||
    s.protectControlGroups ||
    s.protectProc !== 'default' ||
    s.procSubset !== 'all' ||
    s.privateMounts
  );
}

/** Whether any seccomp filter is asked for (directly or implied by a Protect*= key). */
export function needsSeccomp(s: SandboxContext): boolean {
  return (
    s.systemCallFilter !== undefined ||
    s.systemCallArchitectures.length > 0 ||
    s.restrictAddressFamilies !== undefined ||
    s.restrictNamespaces !== undefined ||
    s.restrictRealtime ||
    s.restrictSUIDSGID ||
    s.lockPersonality ||
    s.memoryDenyWriteExecute ||
    s.privateDevices ||
    s.protectKernelModules ||
    s.protectKernelLogs ||
    s.protectClock ||
    s.protectHostname
  );
}

/** Whether the unit asks for any sandboxing at all: a unit that does not pays nothing. */
export function isSandboxed(s: SandboxContext): boolean {
  return (
    needsMountNamespace(s) ||
    needsSeccomp(s) ||
    s.privateNetwork ||
    s.privateIPC ||
    s.networkNamespacePath !== undefined ||
    s.ipcNamespacePath !== undefined
  );
}

/** errno names (EPERM) or numbers, as SystemCallErrorNumber= and `call:ERRNO` take them. */
export function parseErrno(text: string): number {
  if (/^[0-9]+$/.test(text)) {
    const n = Number(text);
    if (n < 1 || n > 4095) throw new ValueError(`errno ${text} is out of range; expected 1-4095 or a name`);
    return n;
  }
  const n = (constants.errno as Record<string, number>)[text];
  if (n === undefined) throw new ValueError(`'${text}' is not an errno name; expected a name such as EPERM`);
  return n;
}

/** Linux address families by name, as RestrictAddressFamilies= names them. */
export const ADDRESS_FAMILIES: Readonly<Record<string, number>> = {
  AF_UNIX: 1,
  AF_LOCAL: 1,
  AF_INET: 2,
  AF_AX25: 3,
  AF_IPX: 4,
  AF_APPLETALK: 5,
  AF_NETROM: 6,
  AF_BRIDGE: 7,
  AF_ATMPVC: 8,
  AF_X25: 9,
  AF_INET6: 10,
  AF_ROSE: 11,
  AF_DECnet: 12,
  AF_NETBEUI: 13,
  AF_SECURITY: 14,
  AF_KEY: 15,
  AF_NETLINK: 16,
  AF_ROUTE: 16,
  AF_PACKET: 17,
  AF_ASH: 18,
  AF_ECONET: 19,
  AF_ATMSVC: 20,
  AF_RDS: 21,
  AF_SNA: 22,
  AF_IRDA: 23,
  AF_PPPOX: 24,
  AF_WANPIPE: 25,
  AF_LLC: 26,
  AF_IB: 27,
  AF_MPLS: 28,
  AF_CAN: 29,
  AF_TIPC: 30,
  AF_BLUETOOTH: 31,
  AF_IUCV: 32,
  AF_RXRPC: 33,
  AF_ISDN: 34,
  AF_PHONET: 35,
  AF_IEEE802154: 36,
  AF_CAIF: 37,
  AF_ALG: 38,
  AF_NFC: 39,
  AF_VSOCK: 40,
  AF_KCM: 41,
  AF_QIPCRTR: 42,
  AF_SMC: 43,
  AF_XDP: 44,
  AF_MCTP: 45,
};
/** One past the highest family number (AF_MAX). */
export const AF_MAX = 46;

/** RestrictNamespaces= names and their clone flags. */
export const NAMESPACE_FLAGS: Readonly<Record<string, number>> = {
  cgroup: 0x02000000,
  ipc: 0x08000000,
  net: 0x40000000,
  mnt: 0x00020000,
  pid: 0x20000000,
  user: 0x10000000,
  uts: 0x04000000,
};

/** The system calls a filter entry stands for; throws for an unknown `@group`. */
export function filterEntryCalls(name: string): string[] {
  const calls = expandSyscallName(name);
  if (!calls) throw new ValueError(`unknown system call group '${name}'; see systemd-analyze syscall-filter`);
  return calls;
}
