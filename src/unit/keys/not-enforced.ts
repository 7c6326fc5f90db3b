// Keys systemd knows in [Service] and [Socket] that sockunit recognises but does not act on:
// sandboxing, cgroup resource control, logging, PAM, encrypted credentials, directory quotas. A unit using them
// loads; verify and show say plainly that they have no effect here.

import type { KeyDef, SectionName } from './define.js';
import { notEnforcedRow } from './define.js';

interface Group {
  reason: string;
  keys: readonly (string | readonly [name: string, since: number])[];
}

const GROUPS: readonly Group[] = [
  {
    reason:
      'not part of sockunit’s sandbox (disk images and extensions, whose mounting sockunit does not do: RootDirectory= takes a directory; BPF delegation, MAC labels, keyrings, mount propagation flags, IPC removal)',
    keys: [
      'RootImage',
      'RootImageOptions',
      'RootImagePolicy',
      'RootHash',
      'RootHashSignature',
      'RootVerity',
      'RootEphemeral',
      'ExtensionDirectories',
      'ExtensionImages',
      'ExtensionImagePolicy',
      'MountImages',
      'MountImagePolicy',
      'KeyringMode',
      ['PrivateBPF', 258],
      ['BPFDelegateCommands', 258],
      ['BPFDelegateMaps', 258],
      ['BPFDelegatePrograms', 258],
      ['BPFDelegateAttachments', 258],
      ['DelegateNamespaces', 258],
      'MountFlags',
      ['BindLogSockets', 257],
      'RemoveIPC',
      'SELinuxContext',
      'AppArmorProfile',
      'SmackProcessLabel',
      'Capabilities',
    ],
  },
  {
    reason:
      'needs a BPF LSM program that checks every file open against the unit’s cgroup, which sockunit does not load (systemd’s restrict-fs, built with libbpf); systemd itself refuses the key unless the kernel runs the BPF LSM (CONFIG_BPF_LSM=y and "bpf" in lsm= on the kernel command line, as /sys/kernel/security/lsm shows) on cgroup v2; InaccessiblePaths= on the file systems’ mount points is the nearest sockunit enforces',
    keys: ['RestrictFileSystems'],
  },
  {
    reason:
      'a PID namespace makes the first child its init: it needs a process between the manager and the service (systemd forks one), which sockunit’s exec chain has not, so the service would not keep the pid the manager started',
    keys: [['PrivatePIDs', 257]],
  },
  {
    reason: 'kernel same-page merging (PR_SET_MEMORY_MERGE) is not applied by sockunit',
    keys: ['MemoryKSM'],
  },
  {
    reason: 'sockunit does not log to the journal or set up terminals',
    keys: [
      'SyslogIdentifier',
      'SyslogFacility',
      'SyslogLevel',
      'SyslogLevelPrefix',
      'LogLevelMax',
      'LogRateLimitIntervalSec',
      'LogRateLimitBurst',
      'LogExtraFields',
      'LogFilterPatterns',
      'LogNamespace',
      'TTYPath',
      'TTYReset',
      'TTYVHangup',
      'TTYVTDisallocate',
      'TTYRows',
      'TTYColumns',
      'UtmpIdentifier',
      'UtmpMode',
      'SetLoginEnvironment',
    ],
  },
  {
    reason:
      "sockunit does not measure or limit the disk use of a unit's directories, nor clean them on request",
    keys: [
      'StateDirectoryAccounting',
      'StateDirectoryQuota',
      'CacheDirectoryAccounting',
      'CacheDirectoryQuota',
      'LogsDirectoryAccounting',
      'LogsDirectoryQuota',
      'TimeoutCleanSec',
    ],
  },
  {
    reason:
      "encrypted credentials need systemd-creds and the machine's credential secret or TPM2, which sockunit cannot use; decrypt them once with systemd-creds and use LoadCredential= or SetCredential=",
    keys: ['LoadCredentialEncrypted', 'SetCredentialEncrypted'],
  },
  {
    reason:
      'sockunit opens no PAM session (it has no PAM module stack of its own); User=, SupplementaryGroups= and the Limit*= keys give what pam_unix and pam_limits would',
    keys: ['PAMName'],
  },
  {
    reason: 'cgroup resource control is not applied by sockunit',
    keys: [
      'Slice',
      'AllowedCPUs',
      'StartupAllowedCPUs',
      'AllowedMemoryNodes',
      'StartupAllowedMemoryNodes',
      'CPUAccounting',
      'CPUWeight',
      'StartupCPUWeight',
      'CPUShares',
      'StartupCPUShares',
      'CPUQuota',
      'CPUQuotaPeriodSec',
      'MemoryAccounting',
      'MemoryMin',
      'DefaultMemoryMin',
      'DefaultMemoryLow',
      'DefaultStartupMemoryLow',
      'MemoryLow',
      'StartupMemoryLow',
      'MemoryHigh',
      'StartupMemoryHigh',
      'MemoryMax',
      'StartupMemoryMax',
      'MemorySwapMax',
      'StartupMemorySwapMax',
      'MemoryZSwapMax',
      'StartupMemoryZSwapMax',
      'MemoryZSwapWriteback',
      'MemoryLimit',
      'DeviceAllow',
      'DevicePolicy',
      'IOAccounting',
      'IOWeight',
      'StartupIOWeight',
      'IODeviceWeight',
      'IOReadBandwidthMax',
      'IOWriteBandwidthMax',
      'IOReadIOPSMax',
      'IOWriteIOPSMax',
      'IODeviceLatencyTargetSec',
      'BlockIOAccounting',
      'BlockIOWeight',
      'StartupBlockIOWeight',
      'BlockIODeviceWeight',
      'BlockIOReadBandwidth',
      'BlockIOWriteBandwidth',
      'TasksAccounting',
      'TasksMax',
      'Delegate',
      'DelegateSubgroup',
      'DisableControllers',
      'IPAccounting',
      'IPAddressAllow',
      'IPAddressDeny',
      'IPIngressFilterPath',
      'IPEgressFilterPath',
      'ManagedOOMSwap',
      'ManagedOOMMemoryPressure',
      'ManagedOOMMemoryPressureLimit',
      'ManagedOOMMemoryPressureDurationSec',
      'ManagedOOMPreference',
      'NetClass',
      'BPFProgram',
      'SocketBindAllow',
      'SocketBindDeny',
      'RestrictNetworkInterfaces',
      'MemoryPressureThresholdSec',
      'MemoryPressureWatch',
      'NFTSet',
      'CoredumpReceive',
    ],
  },
];

/** The exec/cgroup keys [Service] and [Socket] both know and sockunit does not act on. */
export function notEnforcedExecKeys<C>(section: SectionName): KeyDef<C>[] {
  return GROUPS.flatMap((g) =>
    g.keys.map((k) =>
      typeof k === 'string'
        ? notEnforcedRow<C>(section, k, g.reason)
        : notEnforcedRow<C>(section, k[0], g.reason, { since: k[1] }),
    ),
  );
}
