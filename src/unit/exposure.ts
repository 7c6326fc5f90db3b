// The exposure figure of `systemd-analyze security`, computed for a service's unit file twice:
// as systemd would run it, and as sockunit runs it (a key sockunit does not enforce protects
// nothing here). Checks, weights, ranges, the formula and the ratings are systemd's
// (analyze-security.c, systemd 252) taken as data; the descriptions are this project's.
//
// Exposure: for each check that applies, badness (0 = good … range = bad) weighs
// ceil(badness × weight / range); the figure is ceil(sum × 100 / sum of weights) tenths, 0.0–10.0.

import { CAPABILITY_NAMES, capabilityMask } from './capabilities.js';
import type { KeyTable } from './key-table.js';
import { ADDRESS_FAMILIES, filterEntryCalls, type SandboxContext, serviceRoot } from './sandbox-config.js';
import type { ServiceUnitConfig } from './service-config.js';
import { SYSCALL_GROUPS } from './syscall-groups.js';

/** What a check reads from a unit, once for each view. */
interface SecurityInfo {
  runsAsRoot: boolean;
  user: string | undefined;
  dynamicUser: boolean;
  supplementaryGroups: boolean;
  sandbox: SandboxContext;
  privateUsers: boolean;
  noNewPrivileges: boolean;
  rootDirectory: boolean;
  /** Capabilities the service may keep (CapabilityBoundingSet=), as a bit mask. */
  capabilities: bigint;
  ambientCapabilities: boolean;
  umask: number;
  keyringPrivate: boolean;
  notifyAll: boolean;
  removeIPC: boolean;
  delegate: boolean;
  ipDenyAll: boolean;
  ipAllowLocalhostOnly: boolean;
  ipAllowOther: boolean;
  deviceClosed: boolean;
  deviceAllow: boolean;
  defaultDependencies: boolean;
}

interface Check {
  id: string;
  jsonField: string;
  weight: number;
  range: number;
  /** The keys the check reads (for "applied by sockunit?"). */
  keys: string[];
  /** undefined: does not apply (n/a). */
  assess(i: SecurityInfo, exists: (call: string) => boolean): { badness: number | undefined; text: string };
  defaultDependenciesOnly?: boolean;
}

const ALL_CAPS = (1n << BigInt(CAPABILITY_NAMES.length)) - 1n;
const cap = (...names: string[]) =>
  names.reduce((m, n) => m | (1n << BigInt(CAPABILITY_NAMES.indexOf(n))), 0n);

function flag(
  id: string,
  jsonField: string,
  weight: number,
  good: string,
  bad: string,
  read: (i: SecurityInfo) => boolean,
  keys: string[] = [id.replace(/=.*$/, '')],
  defaultDependenciesOnly = false,
): Check {
  return {
    id,
    jsonField,
    weight,
    range: 1,
    keys,
    defaultDependenciesOnly,
    assess: (i) => (read(i) ? { badness: 0, text: good } : { badness: 1, text: bad }),
  };
}

function capabilityCheck(
  id: string,
  jsonField: string,
  weight: number,
  what: string,
  ...names: string[]
): Check {
  const mask = cap(...names);
  return {
    id: `CapabilityBoundingSet=~${id}`,
    jsonField: `CapabilityBoundingSet_${jsonField}`,
    weight,
    range: 1,
    keys: ['CapabilityBoundingSet'],
    assess: (i) =>
      (i.capabilities & mask) === 0n
        ? { badness: 0, text: `Service cannot ${what}` }
        : { badness: 1, text: `Service may ${what}` },
  };
}

function namespaceCheck(name: string, weight: number, what: string): Check {
  return {
    id: `RestrictNamespaces=~${name}`,
    jsonField: `RestrictNamespaces_${name}`,
    weight,
    range: 1,
    keys: ['RestrictNamespaces'],
    assess: (i) =>
      namespaceAllowed(i.sandbox, name)
        ? { badness: 1, text: `Service may create ${what} namespaces` }
        : { badness: 0, text: `Service cannot create ${what} namespaces` },
  };
}

function familyCheck(
  id: string,
  jsonField: string,
  weight: number,
  what: string,
  families: string[] | 'other',
): Check {
  return {
    id: `RestrictAddressFamilies=~${id}`,
    jsonField: `RestrictAddressFamilies_${jsonField}`,
    weight,
    range: 1,
    keys: ['RestrictAddressFamilies'],
    assess: (i) =>
      familiesRestricted(i.sandbox, families)
        ? { badness: 0, text: `Service cannot allocate ${what} sockets` }
        : { badness: 1, text: `Service may allocate ${what} sockets` },
  };
}

function filterCheck(group: string, weight: number): Check {
  return {
    id: `SystemCallFilter=~${group}`,
    jsonField: `SystemCallFilter_${group.slice(1).replace('-', '_')}`,
    weight,
    range: 10,
    keys: ['SystemCallFilter'],
    assess: (i, exists) => {
      const f = i.sandbox.systemCallFilter;
      if (!f) return { badness: 10, text: 'Service does not filter system calls' };
      const listed = new Set([...f.entries.keys()].flatMap((n) => filterEntryCalls(n)));
      const calls = (SYSCALL_GROUPS[group]?.calls ?? []).flatMap((c) => filterEntryCalls(c)).filter(exists);
      const offender = calls.find((c) => listed.has(c) === f.allowList);
      if (f.allowList)
        return offender
          ? {
              badness: 9,
              text: `System call allow list defined, and ${group} is included (e.g. ${offender})`,
            }
          : { badness: 0, text: `System call allow list defined, and ${group} is not included` };
      return offender
        ? {
            badness: 10,
            text: `System call deny list defined, and ${group} is not included (e.g. ${offender} is allowed)`,
          }
        : { badness: 0, text: `System call deny list defined, and ${group} is included` };
    },
  };
}

function namespaceAllowed(s: SandboxContext, name: string): boolean {
  const r = s.restrictNamespaces;
  if (!r) return true;
  return r.allowList === r.names.includes(name);
}

function familiesRestricted(s: SandboxContext, families: string[] | 'other'): boolean {
  const r = s.restrictAddressFamilies;
  if (!r) return false;
  const known = ['AF_INET', 'AF_INET6', 'AF_UNIX', 'AF_LOCAL', 'AF_NETLINK', 'AF_ROUTE', 'AF_PACKET'];
  // systemd's reading: an allow-list restricts what it does not name; a deny-list what it names.
  const named =
    families === 'other'
      ? r.names.some((n) => !known.includes(n) && ADDRESS_FAMILIES[n] !== undefined)
      : r.names.some((n) => families.includes(n));
  return r.allowList ? !named : named;
}

const CHECKS: readonly Check[] = [
  {
    id: 'User=/DynamicUser=',
    jsonField: 'UserOrDynamicUser',
    weight: 2000,
    range: 10,
    keys: ['User', 'DynamicUser'],
    assess: (i) => {
      if (i.user === 'nobody')
        return { badness: 9, text: "Service runs as 'nobody', which should not be used for services" };
      if (i.dynamicUser && !i.runsAsRoot)
        return { badness: 0, text: 'Service runs under a transient non-root user identity' };
      if (!i.runsAsRoot) return { badness: 0, text: 'Service runs under a static non-root user identity' };
      return { badness: 10, text: 'Service runs as root user' };
    },
  },
  {
    id: 'SupplementaryGroups=',
    jsonField: 'SupplementaryGroups',
    weight: 200,
    range: 1,
    keys: ['SupplementaryGroups'],
    assess: (i) =>
      i.runsAsRoot
        ? { badness: undefined, text: 'Service runs as root, option does not matter' }
        : i.supplementaryGroups
          ? { badness: 1, text: 'Service runs with supplementary groups' }
          : { badness: 0, text: 'Service has no supplementary groups' },
  },
  flag(
    'PrivateDevices=',
    'PrivateDevices',
    1000,
    'Service has no access to hardware devices',
    'Service potentially has access to hardware devices',
    (i) => i.sandbox.privateDevices,
  ),
  flag(
    'PrivateMounts=',
    'PrivateMounts',
    1000,
    'Service cannot install system mounts',
    'Service may install system mounts',
    (i) => i.sandbox.privateMounts,
  ),
  flag(
    'PrivateNetwork=',
    'PrivateNetwork',
    2500,
    "Service has no access to the host's network",
    "Service has access to the host's network",
    (i) => i.sandbox.privateNetwork,
  ),
  flag(
    'PrivateTmp=',
    'PrivateTmp',
    1000,
    "Service has no access to other software's temporary files",
    "Service has access to other software's temporary files",
    (i) => i.sandbox.privateTmp !== 'no',
    ['PrivateTmp'],
    true,
  ),
  flag(
    'PrivateUsers=',
    'PrivateUsers',
    1000,
    'Service does not have access to other users',
    'Service has access to other users',
    (i) => i.privateUsers,
  ),
  flag(
    'ProtectControlGroups=',
    'ProtectControlGroups',
    1000,
    'Service cannot modify the control group file system',
    'Service may modify the control group file system',
    (i) => i.sandbox.protectControlGroups,
  ),
  flag(
    'ProtectKernelModules=',
    'ProtectKernelModules',
    1000,
    'Service cannot load or read kernel modules',
    'Service may load or read kernel modules',
    (i) => i.sandbox.protectKernelModules,
  ),
  flag(
    'ProtectKernelTunables=',
    'ProtectKernelTunables',
    1000,
    'Service cannot alter kernel tunables (/proc/sys, …)',
    'Service may alter kernel tunables',
    (i) => i.sandbox.protectKernelTunables,
  ),
  flag(
    'ProtectKernelLogs=',
    'ProtectKernelLogs',
    1000,
    'Service cannot read from or write to the kernel log ring buffer',
    'Service may read from or write to the kernel log ring buffer',
    (i) => i.sandbox.protectKernelLogs,
  ),
  flag(
    'ProtectClock=',
    'ProtectClock',
    1000,
    'Service cannot write to the hardware clock or system clock',
    'Service may write to the hardware clock or system clock',
    (i) => i.sandbox.protectClock,
  ),
  {
    id: 'ProtectHome=',
    jsonField: 'ProtectHome',
    weight: 1000,
    range: 10,
    keys: ['ProtectHome'],
    defaultDependenciesOnly: true,
    assess: (i) => {
      const v = i.sandbox.protectHome;
      if (v === 'yes') return { badness: 0, text: 'Service has no access to home directories' };
      if (v === 'read-only') return { badness: 5, text: 'Service has read-only access to home directories' };
      if (v === 'tmpfs') return { badness: 1, text: 'Service has access to fake empty home directories' };
      return { badness: 10, text: 'Service has full access to home directories' };
    },
  },
  flag(
    'ProtectHostname=',
    'ProtectHostname',
    50,
    'Service cannot change system host/domainname',
    'Service may change system host/domainname',
    (i) => i.sandbox.protectHostname,
  ),
  {
    id: 'ProtectSystem=',
    jsonField: 'ProtectSystem',
    weight: 1000,
    range: 10,
    keys: ['ProtectSystem'],
    defaultDependenciesOnly: true,
    assess: (i) => {
      const v = i.sandbox.protectSystem;
      if (v === 'strict')
        return { badness: 0, text: 'Service has strict read-only access to the OS file hierarchy' };
      if (v === 'full')
        return { badness: 3, text: 'Service has very limited write access to the OS file hierarchy' };
      if (v === 'yes')
        return { badness: 5, text: 'Service has limited write access to the OS file hierarchy' };
      return { badness: 10, text: 'Service has full access to the OS file hierarchy' };
    },
  },
  flag(
    'RootDirectory=/RootImage=',
    'RootDirectoryOrRootImage',
    200,
    'Service has its own root directory/image',
    "Service runs within the host's root directory",
    (i) => i.rootDirectory,
    ['RootDirectory', 'RootImage'],
    true,
  ),
  flag(
    'LockPersonality=',
    'LockPersonality',
    100,
    'Service cannot change ABI personality',
    'Service may change ABI personality',
    (i) => i.sandbox.lockPersonality,
  ),
  flag(
    'MemoryDenyWriteExecute=',
    'MemoryDenyWriteExecute',
    100,
    'Service cannot create writable executable memory mappings',
    'Service may create writable executable memory mappings',
    (i) => i.sandbox.memoryDenyWriteExecute,
  ),
  flag(
    'NoNewPrivileges=',
    'NoNewPrivileges',
    1000,
    'Service processes cannot acquire new privileges',
    'Service processes may acquire new privileges',
    (i) => i.noNewPrivileges,
  ),
  capabilityCheck(
    'CAP_SYS_ADMIN',
    'CAP_SYS_ADMIN',
    1500,
    'use administrator privileges (CAP_SYS_ADMIN)',
    'CAP_SYS_ADMIN',
  ),
  capabilityCheck(
    'CAP_SET(UID|GID|PCAP)',
    'CAP_SET_UID_GID_PCAP',
    1500,
    'change UID/GID identities/capabilities',
    'CAP_SETUID',
    'CAP_SETGID',
    'CAP_SETPCAP',
  ),
  capabilityCheck('CAP_SYS_PTRACE', 'CAP_SYS_PTRACE', 1500, 'use ptrace()', 'CAP_SYS_PTRACE'),
  capabilityCheck('CAP_SYS_TIME', 'CAP_SYS_TIME', 1000, 'change the system clock', 'CAP_SYS_TIME'),
  capabilityCheck('CAP_NET_ADMIN', 'CAP_NET_ADMIN', 1000, 'configure the network', 'CAP_NET_ADMIN'),
  capabilityCheck('CAP_SYS_RAWIO', 'CAP_SYS_RAWIO', 1000, 'do raw I/O', 'CAP_SYS_RAWIO'),
  capabilityCheck('CAP_SYS_MODULE', 'CAP_SYS_MODULE', 1000, 'load kernel modules', 'CAP_SYS_MODULE'),
  capabilityCheck(
    'CAP_AUDIT_*',
    'CAP_AUDIT',
    500,
    'access the audit subsystem',
    'CAP_AUDIT_CONTROL',
    'CAP_AUDIT_READ',
    'CAP_AUDIT_WRITE',
  ),
  capabilityCheck('CAP_SYSLOG', 'CAP_SYSLOG', 500, 'access kernel logging', 'CAP_SYSLOG'),
  capabilityCheck(
    'CAP_SYS_(NICE|RESOURCE)',
    'CAP_SYS_NICE_RESOURCE',
    500,
    'change resource use parameters',
    'CAP_SYS_NICE',
    'CAP_SYS_RESOURCE',
  ),
  capabilityCheck('CAP_MKNOD', 'CAP_MKNOD', 500, 'create device nodes', 'CAP_MKNOD'),
  capabilityCheck(
    'CAP_(CHOWN|FSETID|SETFCAP)',
    'CAP_CHOWN_FSETID_SETFCAP',
    1000,
    'change file ownership/access mode/capabilities',
    'CAP_CHOWN',
    'CAP_FSETID',
    'CAP_SETFCAP',
  ),
  capabilityCheck(
    'CAP_(DAC_*|FOWNER|IPC_OWNER)',
    'CAP_DAC_FOWNER_IPC_OWNER',
    1000,
    'override UNIX file/IPC permission checks',
    'CAP_DAC_OVERRIDE',
    'CAP_DAC_READ_SEARCH',
    'CAP_FOWNER',
    'CAP_IPC_OWNER',
  ),
  capabilityCheck('CAP_KILL', 'CAP_KILL', 500, 'send UNIX signals to arbitrary processes', 'CAP_KILL'),
  capabilityCheck(
    'CAP_NET_(BIND_SERVICE|BROADCAST|RAW)',
    'CAP_NET_BIND_SERVICE_BROADCAST_RAW)',
    500,
    'use elevated networking privileges',
    'CAP_NET_BIND_SERVICE',
    'CAP_NET_BROADCAST',
    'CAP_NET_RAW',
  ),
  capabilityCheck('CAP_SYS_BOOT', 'CAP_SYS_BOOT', 100, 'issue reboot()', 'CAP_SYS_BOOT'),
  capabilityCheck('CAP_MAC_*', 'CAP_MAC', 100, 'adjust SMACK MAC', 'CAP_MAC_ADMIN', 'CAP_MAC_OVERRIDE'),
  capabilityCheck(
    'CAP_LINUX_IMMUTABLE',
    'CAP_LINUX_IMMUTABLE',
    75,
    'mark files immutable',
    'CAP_LINUX_IMMUTABLE',
  ),
  capabilityCheck('CAP_IPC_LOCK', 'CAP_IPC_LOCK', 50, 'lock memory into RAM', 'CAP_IPC_LOCK'),
  capabilityCheck('CAP_SYS_CHROOT', 'CAP_SYS_CHROOT', 50, 'issue chroot()', 'CAP_SYS_CHROOT'),
  capabilityCheck('CAP_BLOCK_SUSPEND', 'CAP_BLOCK_SUSPEND', 25, 'establish wake locks', 'CAP_BLOCK_SUSPEND'),
  capabilityCheck(
    'CAP_WAKE_ALARM',
    'CAP_WAKE_ALARM',
    25,
    'program timers that wake up the system',
    'CAP_WAKE_ALARM',
  ),
  capabilityCheck('CAP_LEASE', 'CAP_LEASE', 25, 'create file leases', 'CAP_LEASE'),
  capabilityCheck('CAP_SYS_TTY_CONFIG', 'CAP_SYS_TTY_CONFIG', 25, 'issue vhangup()', 'CAP_SYS_TTY_CONFIG'),
  capabilityCheck('CAP_SYS_PACCT', 'CAP_SYS_PACCT', 25, 'use acct()', 'CAP_SYS_PACCT'),
  capabilityCheck('CAP_BPF', 'CAP_BPF', 25, 'load BPF programs', 'CAP_BPF'),
  {
    id: 'UMask=',
    jsonField: 'UMask',
    weight: 100,
    range: 10,
    keys: ['UMask'],
    assess: (i) => {
      const m = i.umask;
      if (!(m & 0o002))
        return { badness: 10, text: 'Files created by service are world-writable by default' };
      if (!(m & 0o004)) return { badness: 5, text: 'Files created by service are world-readable by default' };
      if (!(m & 0o020)) return { badness: 2, text: 'Files created by service are group-writable by default' };
      if (!(m & 0o040)) return { badness: 1, text: 'Files created by service are group-readable by default' };
      return {
        badness: 0,
        text: "Files created by service are accessible only by service's own user by default",
      };
    },
  },
  flag(
    'KeyringMode=',
    'KeyringMode',
    1000,
    "Service doesn't share key material with other services",
    'Service shares key material with other service',
    (i) => i.keyringPrivate,
  ),
  {
    id: 'ProtectProc=',
    jsonField: 'ProtectProc',
    weight: 1000,
    range: 3,
    keys: ['ProtectProc'],
    assess: (i) => {
      const v = i.sandbox.protectProc;
      if (v === 'noaccess')
        return { badness: 1, text: 'Service has no access to other processes (/proc hidepid=noaccess)' };
      if (v === 'invisible' || v === 'ptraceable')
        return { badness: 0, text: 'Service has restricted access to process tree (/proc hidepid=)' };
      return { badness: 3, text: 'Service has full access to process tree (/proc hidepid=)' };
    },
  },
  flag(
    'ProcSubset=',
    'ProcSubset',
    10,
    'Service has no access to non-process /proc files (/proc subset=)',
    'Service has full access to non-process /proc files (/proc subset=)',
    (i) => i.sandbox.procSubset === 'pid',
  ),
  flag(
    'NotifyAccess=',
    'NotifyAccess',
    1000,
    'Service child processes cannot alter service state',
    'Service child processes may alter service state',
    (i) => !i.notifyAll,
  ),
  {
    id: 'RemoveIPC=',
    jsonField: 'RemoveIPC',
    weight: 100,
    range: 1,
    keys: ['RemoveIPC'],
    assess: (i) =>
      i.runsAsRoot
        ? { badness: undefined, text: 'Service runs as root, option does not apply' }
        : i.removeIPC
          ? { badness: 0, text: 'Service user cannot leave SysV IPC objects around' }
          : { badness: 1, text: 'Service user may leave SysV IPC objects around' },
  },
  flag(
    'Delegate=',
    'Delegate',
    100,
    'Service does not maintain its own delegated control group subtree',
    'Service maintains its own delegated control group subtree',
    (i) => !i.delegate,
  ),
  flag(
    'RestrictRealtime=',
    'RestrictRealtime',
    500,
    'Service realtime scheduling access is restricted',
    'Service may acquire realtime scheduling',
    (i) => i.sandbox.restrictRealtime,
  ),
  flag(
    'RestrictSUIDSGID=',
    'RestrictSUIDSGID',
    1000,
    'SUID/SGID file creation by service is restricted',
    'Service may create SUID/SGID files',
    (i) => i.sandbox.restrictSUIDSGID,
  ),
  namespaceCheck('user', 1500, 'user'),
  namespaceCheck('mnt', 500, 'file system'),
  namespaceCheck('ipc', 500, 'IPC'),
  namespaceCheck('pid', 500, 'process'),
  namespaceCheck('cgroup', 500, 'cgroup'),
  namespaceCheck('net', 500, 'network'),
  namespaceCheck('uts', 100, 'hostname'),
  familyCheck('AF_(INET|INET6)', 'AF_INET_INET6', 1500, 'Internet', ['AF_INET', 'AF_INET6']),
  familyCheck('AF_UNIX', 'AF_UNIX', 25, 'local', ['AF_UNIX', 'AF_LOCAL']),
  familyCheck('AF_NETLINK', 'AF_NETLINK', 200, 'netlink', ['AF_NETLINK', 'AF_ROUTE']),
  familyCheck('AF_PACKET', 'AF_PACKET', 1000, 'packet', ['AF_PACKET']),
  familyCheck('…', 'OTHER', 1250, 'exotic', 'other'),
  {
    id: 'SystemCallArchitectures=',
    jsonField: 'SystemCallArchitectures',
    weight: 1000,
    range: 10,
    keys: ['SystemCallArchitectures'],
    assess: (i) => {
      const a = i.sandbox.systemCallArchitectures;
      if (a.length === 0) return { badness: 10, text: 'Service may execute system calls with all ABIs' };
      if (a.length === 1 && a[0] === 'native')
        return { badness: 0, text: 'Service may execute system calls only with native ABI' };
      return { badness: 8, text: 'Service may execute system calls with multiple ABIs' };
    },
  },
  filterCheck('@swap', 1000),
  filterCheck('@obsolete', 250),
  filterCheck('@clock', 1000),
  filterCheck('@cpu-emulation', 250),
  filterCheck('@debug', 1000),
  filterCheck('@mount', 1000),
  filterCheck('@module', 1000),
  filterCheck('@raw-io', 1000),
  filterCheck('@reboot', 1000),
  filterCheck('@privileged', 700),
  filterCheck('@resources', 700),
  {
    id: 'IPAddressDeny=',
    jsonField: 'IPAddressDeny',
    weight: 1000,
    range: 10,
    keys: ['IPAddressDeny', 'IPAddressAllow'],
    assess: (i) => {
      if (!i.ipDenyAll) return { badness: 10, text: 'Service does not define an IP address allow list' };
      if (i.ipAllowOther)
        return { badness: 5, text: 'Service defines IP address allow list with non-localhost entries' };
      if (i.ipAllowLocalhostOnly)
        return { badness: 2, text: 'Service defines IP address allow list with only localhost entries' };
      return { badness: 0, text: 'Service blocks all IP address ranges' };
    },
  },
  {
    id: 'DeviceAllow=',
    jsonField: 'DeviceAllow',
    weight: 1000,
    range: 10,
    keys: ['DevicePolicy', 'DeviceAllow'],
    assess: (i) => {
      if (!i.deviceClosed) return { badness: 10, text: 'Service has no device ACL' };
      if (i.deviceAllow) return { badness: 5, text: 'Service has a device ACL with some special devices' };
      return { badness: 0, text: 'Service has a minimal device ACL' };
    },
  },
  flag(
    'AmbientCapabilities=',
    'AmbientCapabilities',
    500,
    'Service process does not receive ambient capabilities',
    'Service process receives ambient capabilities',
    (i) => !i.ambientCapabilities,
  ),
];

/** The raw text of a key as the file has it (the last assignment), enforced or not. */
function rawValue(config: ServiceUnitConfig, key: string): string | undefined {
  const notEnforced = config.notEnforced.filter((n) => n.key === key);
  if (notEnforced.length > 0) return notEnforced[notEnforced.length - 1]?.value;
  return config.origins[key]?.value;
}

function rawValues(config: ServiceUnitConfig, key: string): string[] {
  const out: string[] = [];
  for (const n of config.notEnforced) if (n.key === key) out.push(n.value);
  if (out.length === 0 && config.origins[key]) out.push(config.origins[key].value);
  return out;
}

function yes(v: string | undefined): boolean {
  return v !== undefined && /^(1|yes|y|true|t|on)$/i.test(v.trim());
}

/** The values after the last empty assignment (which resets a list). */
function sinceReset(values: readonly string[]): string[] {
  const n = values.findLastIndex((v) => v.trim() === '');
  return values.slice(n + 1);
}

/** The facts the checks read, as systemd would run the unit: with what systemd's
 * unit_patch_contexts() derives from other keys (PrivateDevices=, ProtectKernelModules=,
 * ProtectKernelLogs= and ProtectClock= drop capabilities; ProtectClock= allows the RTC device;
 * PrivateDevices= closes the device policy; DynamicUser= implies PrivateTmp=, ProtectSystem=strict,
 * ProtectHome=read-only, NoNewPrivileges=, RestrictSUIDSGID= and RemoveIPC=), the last only when
 * `dynamicUserApplies`. */
function systemdInfo(config: ServiceUnitConfig, dynamicUserApplies = true): SecurityInfo {
  const e = config.exec;
  const dynamicUser = yes(rawValue(config, 'DynamicUser'));
  const implied = dynamicUser && dynamicUserApplies;
  const s = config.sandbox;
  const sandbox: SandboxContext = implied
    ? {
        ...s,
        privateTmp: s.privateTmp === 'no' ? 'yes' : s.privateTmp,
        protectSystem: 'strict',
        protectHome: s.protectHome === 'no' ? 'read-only' : s.protectHome,
        restrictSUIDSGID: true,
      }
    : s;
  let dropped = 0n;
  if (s.privateDevices) dropped |= cap('CAP_MKNOD', 'CAP_SYS_RAWIO');
  if (s.protectKernelModules) dropped |= cap('CAP_SYS_MODULE');
  if (s.protectKernelLogs) dropped |= cap('CAP_SYSLOG');
  if (s.protectClock) dropped |= cap('CAP_SYS_TIME', 'CAP_WAKE_ALARM');
  const user = e.user;
  const runsAsRoot = user === undefined ? !dynamicUser : user === 'root' || user === '0';
  const ipDeny = rawValues(config, 'IPAddressDeny').join(' ');
  const ipAllow = rawValues(config, 'IPAddressAllow')
    .join(' ')
    .split(/\s+/)
    .filter((w) => w !== '');
  const localhost = (w: string) =>
    w === 'localhost' || w.startsWith('127.') || w === '::1' || w === 'link-local';
  const policy = rawValue(config, 'DevicePolicy');
  return {
    runsAsRoot,
    user,
    dynamicUser,
    supplementaryGroups: e.supplementaryGroups.length > 0,
    sandbox,
    privateUsers: yes(rawValue(config, 'PrivateUsers')),
    noNewPrivileges: yes(rawValue(config, 'NoNewPrivileges')) || implied,
    rootDirectory: ['RootDirectory', 'RootImage'].some((k) => {
      const v = rawValue(config, k);
      return v !== undefined && v !== '' && v !== '/';
    }),
    // The parsed sets: every assignment counts (the file's last line alone would not).
    capabilities:
      (e.privileges.capabilityBoundingSet
        ? capabilityMask(e.privileges.capabilityBoundingSet) & ALL_CAPS
        : ALL_CAPS) & ~dropped,
    ambientCapabilities: e.privileges.ambientCapabilities.length > 0,
    umask: e.umask,
    // System services get a private session keyring by default.
    keyringPrivate: (rawValue(config, 'KeyringMode') ?? 'private') === 'private',
    notifyAll: config.service.notifyAccess === 'all',
    removeIPC: yes(rawValue(config, 'RemoveIPC')) || implied,
    delegate: yes(rawValue(config, 'Delegate')),
    ipDenyAll: /\b(any|0\.0\.0\.0\/0|::\/0)\b/.test(ipDeny),
    ipAllowLocalhostOnly: ipAllow.length > 0 && ipAllow.every(localhost),
    ipAllowOther: ipAllow.some((w) => !localhost(w)),
    deviceClosed:
      policy === 'strict' || policy === 'closed' || ((policy ?? 'auto') === 'auto' && s.privateDevices),
    deviceAllow: sinceReset(rawValues(config, 'DeviceAllow')).length > 0 || s.protectClock,
    defaultDependencies: config.unit.defaultDependencies,
  };
}

/** As sockunit runs the unit: what a key it does not enforce would have protected is not there
 * (and what it would have granted, such as ambient capabilities or a delegated cgroup, is not
 * granted either). */
function sockunitInfo(config: ServiceUnitConfig, enforced: (key: string) => boolean): SecurityInfo {
  const s = systemdInfo(config, enforced('DynamicUser'));
  return {
    ...s,
    dynamicUser: enforced('DynamicUser') && s.dynamicUser,
    runsAsRoot: enforced('DynamicUser') ? s.runsAsRoot : config.exec.user === undefined || s.runsAsRoot,
    privateUsers: enforced('PrivateUsers') && s.privateUsers,
    noNewPrivileges: enforced('NoNewPrivileges') && s.noNewPrivileges,
    // RootDirectory= is applied (a directory); RootImage= is not.
    rootDirectory: enforced('RootDirectory') && serviceRoot(config.sandbox) !== undefined,
    capabilities: enforced('CapabilityBoundingSet') ? s.capabilities : ALL_CAPS,
    ambientCapabilities: enforced('AmbientCapabilities') && s.ambientCapabilities,
    keyringPrivate: enforced('KeyringMode') ? s.keyringPrivate : false,
    removeIPC: enforced('RemoveIPC') && s.removeIPC,
    delegate: enforced('Delegate') && s.delegate,
    ipDenyAll: enforced('IPAddressDeny') && s.ipDenyAll,
    deviceClosed: enforced('DevicePolicy') && s.deviceClosed,
  };
}

export interface SecurityCheckResult {
  name: string;
  jsonField: string;
  description: string;
  /** undefined: does not apply to this unit. */
  badness: number | undefined;
  weight: number;
  range: number;
  /** This check's share of the figure, in tenths (as systemd prints it: "0.4"). */
  exposure: string | undefined;
  /** Under systemd, for the same file. */
  systemdBadness: number | undefined;
  systemdExposure: string | undefined;
  /** Whether sockunit applies the keys this check reads, and if not, why. */
  sockunit: 'applied' | 'not set' | string;
}

export interface SecurityAssessment {
  unit: string;
  /** Tenths: 0 (perfect) … 100 (dangerous). */
  exposure: number;
  rating: string;
  systemdExposure: number;
  systemdRating: string;
  /** Keys the file sets that the checks read and sockunit does not enforce. */
  notEnforced: string[];
  checks: SecurityCheckResult[];
}

const RATINGS: readonly [number, string][] = [
  [100, 'DANGEROUS'],
  [90, 'UNSAFE'],
  [75, 'EXPOSED'],
  [50, 'MEDIUM'],
  [10, 'OK'],
  [1, 'SAFE'],
  [0, 'PERFECT'],
];

export function rating(exposure: number): string {
  return (RATINGS.find(([min]) => exposure >= min) ?? [0, 'PERFECT'])[1];
}

/** "9.2" from 92 tenths. */
export function formatExposure(tenths: number): string {
  return `${Math.floor(tenths / 10)}.${tenths % 10}`;
}

function score(
  info: SecurityInfo,
  exists: (call: string) => boolean,
): { results: { badness: number | undefined; text: string }[]; exposure: number; weightSum: number } {
  let badnessSum = 0;
  let weightSum = 0;
  const results = CHECKS.map((c) => {
    if (c.defaultDependenciesOnly && !info.defaultDependencies)
      return { badness: undefined, text: 'Service runs in special boot phase, option is not appropriate' };
    const r = c.assess(info, exists);
    if (r.badness !== undefined) {
      badnessSum += Math.ceil((r.badness * c.weight) / c.range);
      weightSum += c.weight;
    }
    return r;
  });
  return { results, exposure: Math.ceil((badnessSum * 100) / weightSum), weightSum };
}

function share(badness: number | undefined, c: Check, weightSum: number): string | undefined {
  if (badness === undefined || badness === 0) return undefined;
  return formatExposure(Math.ceil(Math.ceil((badness * c.weight * 100) / c.range) / weightSum));
}

/** Assess a service as sockunit runs it and as systemd would. `table` says which keys sockunit
 * enforces; `exists` whether this machine has a system call (systemd skips those it lacks). */
export function assessService(
  config: ServiceUnitConfig,
  table: KeyTable<ServiceUnitConfig>,
  exists: (call: string) => boolean,
): SecurityAssessment {
  const enforcement = (key: string) => table.index.get('Service')?.get(key)?.enforcement;
  const enforced = (key: string) => enforcement(key)?.enforced === true;
  const ours = score(sockunitInfo(config, enforced), exists);
  const theirs = score(systemdInfo(config), exists);
  const checks = CHECKS.map((c, n) => {
    const r = ours.results[n] as { badness: number | undefined; text: string };
    const t = theirs.results[n] as { badness: number | undefined; text: string };
    const set = c.keys.some((k) => rawValue(config, k) !== undefined);
    // Only the keys the unit sets: RootImage= not enforced says nothing of a RootDirectory=.
    const notOurs = c.keys
      .filter((k) => rawValue(config, k) !== undefined)
      .map((k) => enforcement(k))
      .find((x) => x && !x.enforced) as { enforced: false; reason: string } | undefined;
    return {
      name: c.id,
      jsonField: c.jsonField,
      description: r.text,
      badness: r.badness,
      weight: c.weight,
      range: c.range,
      exposure: share(r.badness, c, ours.weightSum),
      systemdBadness: t.badness,
      systemdExposure: share(t.badness, c, theirs.weightSum),
      sockunit: notOurs && set ? `not enforced: ${notOurs.reason}` : set ? 'applied' : 'not set',
    };
  });
  return {
    unit: config.name,
    exposure: ours.exposure,
    rating: rating(ours.exposure),
    systemdExposure: theirs.exposure,
    systemdRating: rating(theirs.exposure),
    notEnforced: [...new Set(CHECKS.flatMap((c) => c.keys))].filter(
      (k) => rawValue(config, k) !== undefined && enforcement(k)?.enforced === false,
    ),
    checks,
  };
}
