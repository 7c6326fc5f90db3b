// The one place koffi is loaded and libc's functions are declared. Every other file in sys/
// wraps these in typed functions; nothing outside sys/ imports koffi (ARCHITECTURE.md).
//
// Rule for every caller: read `errno()` in the same statement as the call that returned -1
// (pass the call's result straight to a checker that reads it first). A console.log or a failing
// fs call in between resets or overwrites it (node-and-ecosystem.md §2.4 g).

import koffi from 'koffi';

const libc = koffi.load('libc.so.6');

/** The calling thread's errno, as set by the last failing libc call. */
export function errno(): number {
  return koffi.errno();
}

// Pointer-sized out parameters are passed as Buffers (`void *`): ~2x faster than koffi's
// `_Out_`/`_Inout_` marshalling for the hot getsockopt path (node-and-ecosystem.md §2.3).
export const libcCalls = {
  socket: libc.func('int socket(int domain, int type, int protocol)'),
  socketpair: libc.func('int socketpair(int domain, int type, int protocol, void *sv)'),
  bind: libc.func('int bind(int fd, const void *addr, uint32_t len)'),
  listen: libc.func('int listen(int fd, int backlog)'),
  connect: libc.func('int connect(int fd, const void *addr, uint32_t len)'),
  accept4: libc.func('int accept4(int fd, void *addr, void *addrlen, int flags)'),
  setsockopt: libc.func('int setsockopt(int fd, int level, int name, const void *val, uint32_t len)'),
  getsockopt: libc.func('int getsockopt(int fd, int level, int name, void *val, void *len)'),
  getsockname: libc.func('int getsockname(int fd, void *addr, void *len)'),
  getpeername: libc.func('int getpeername(int fd, void *addr, void *len)'),
  shutdown: libc.func('int shutdown(int fd, int how)'),
  close: libc.func('int close(int fd)'),
  fcntl: libc.func('int fcntl(int fd, int cmd, ...)'),
  dup: libc.func('int dup(int fd)'),
  dup3: libc.func('int dup3(int oldfd, int newfd, int flags)'),
  poll: libc.func('int poll(void *fds, uint64_t nfds, int timeout)'),
  sendmsg: libc.func('intptr_t sendmsg(int fd, const void *msg, int flags)'),
  recvmsg: libc.func('intptr_t recvmsg(int fd, void *msg, int flags)'),
  sendto: libc.func(
    'intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t alen)',
  ),
  recvfrom: libc.func('intptr_t recvfrom(int fd, void *buf, size_t len, int flags, void *addr, void *alen)'),
  read: libc.func('intptr_t read(int fd, void *buf, size_t len)'),
  write: libc.func('intptr_t write(int fd, const void *buf, size_t len)'),
  open: libc.func('int open(const char *path, int flags, ...)'),
  mkfifo: libc.func('int mkfifo(const char *path, uint32_t mode)'),
  fchmod: libc.func('int fchmod(int fd, uint32_t mode)'),
  chmod: libc.func('int chmod(const char *path, uint32_t mode)'),
  fchown: libc.func('int fchown(int fd, uint32_t uid, uint32_t gid)'),
  chown: libc.func('int chown(const char *path, uint32_t uid, uint32_t gid)'),
  lchown: libc.func('int lchown(const char *path, uint32_t uid, uint32_t gid)'),
  unlink: libc.func('int unlink(const char *path)'),
  umask: libc.func('uint32_t umask(uint32_t mask)'),
  fstat: libc.func('int fstat(int fd, void *statbuf)'),
  fstatfs: libc.func('int fstatfs(int fd, void *statbuf)'),
  if_nametoindex: libc.func('uint32_t if_nametoindex(const char *name)'),
  if_indextoname: libc.func('char *if_indextoname(uint32_t index, void *buf)'),
  inet_pton: libc.func('int inet_pton(int af, const char *src, void *dst)'),
  inet_ntop: libc.func('const char *inet_ntop(int af, const void *src, void *dst, uint32_t size)'),
  getpid: libc.func('int getpid()'),
  gnu_get_libc_version: libc.func('const char *gnu_get_libc_version()'),
  prctl: libc.func('int prctl(int option, ...)'),
  getuid: libc.func('uint32_t getuid()'),
  geteuid: libc.func('uint32_t geteuid()'),
  getgid: libc.func('uint32_t getgid()'),
  kill: libc.func('int kill(int pid, int sig)'),
  syscall: libc.func('long syscall(long number, ...)'),
  waitid: libc.func('int waitid(int idtype, uint32_t id, void *info, int options)'),
  waitpid: libc.func('int waitpid(int pid, void *status, int options)'),
  posix_spawn: libc.func(
    'int posix_spawn(void *pid, const char *path, const void *actions, const void *attr, const char **argv, const char **envp)',
  ),
  posix_spawnp: libc.func(
    'int posix_spawnp(void *pid, const char *file, const void *actions, const void *attr, const char **argv, const char **envp)',
  ),
  posix_spawn_file_actions_init: libc.func('int posix_spawn_file_actions_init(void *actions)'),
  posix_spawn_file_actions_destroy: libc.func('int posix_spawn_file_actions_destroy(void *actions)'),
  posix_spawn_file_actions_adddup2: libc.func(
    'int posix_spawn_file_actions_adddup2(void *actions, int fd, int newfd)',
  ),
  posix_spawn_file_actions_addclose: libc.func(
    'int posix_spawn_file_actions_addclose(void *actions, int fd)',
  ),
  posix_spawn_file_actions_addopen: libc.func(
    'int posix_spawn_file_actions_addopen(void *actions, int fd, const char *path, int oflag, uint32_t mode)',
  ),
  posix_spawn_file_actions_addchdir_np: libc.func(
    'int posix_spawn_file_actions_addchdir_np(void *actions, const char *path)',
  ),
  posix_spawn_file_actions_addclosefrom_np: libc.func(
    'int posix_spawn_file_actions_addclosefrom_np(void *actions, int from)',
  ),
  posix_spawnattr_init: libc.func('int posix_spawnattr_init(void *attr)'),
  posix_spawnattr_destroy: libc.func('int posix_spawnattr_destroy(void *attr)'),
  posix_spawnattr_setflags: libc.func('int posix_spawnattr_setflags(void *attr, short flags)'),
  posix_spawnattr_setsigdefault: libc.func('int posix_spawnattr_setsigdefault(void *attr, const void *set)'),
  posix_spawnattr_setsigmask: libc.func('int posix_spawnattr_setsigmask(void *attr, const void *set)'),
  posix_spawnattr_setpgroup: libc.func('int posix_spawnattr_setpgroup(void *attr, int pgroup)'),
  epoll_create1: libc.func('int epoll_create1(int flags)'),
  epoll_ctl: libc.func('int epoll_ctl(int epfd, int op, int fd, void *event)'),
  epoll_wait: libc.func('int epoll_wait(int epfd, void *events, int maxevents, int timeout)'),
  eventfd: libc.func('int eventfd(uint32_t initval, int flags)'),
  getegid: libc.func('uint32_t getegid()'),
  // The proxy's data path (sys/relay.ts): bytes move socket -> pipe -> socket inside the kernel.
  pipe2: libc.func('int pipe2(void *fds, int flags)'),
  splice: libc.func(
    'intptr_t splice(int fd_in, void *off_in, int fd_out, void *off_out, size_t len, unsigned int flags)',
  ),
  mq_open: koffi.load('librt.so.1').func('int mq_open(const char *name, int oflag, ...)'),
  mq_unlink: koffi.load('librt.so.1').func('int mq_unlink(const char *name)'),
  mq_getattr: koffi.load('librt.so.1').func('int mq_getattr(int mqdes, void *attr)'),
};

/** The address of a Buffer's memory, for structs (msghdr, iovec) that hold pointers. Only valid
 * while the Buffer is referenced. */
export function addressOf(buf: Buffer): bigint {
  return koffi.address(buf) as bigint;
}

export type KoffiPollHandle = ReturnType<typeof koffi.node.poll>;

/** koffi's libuv poll. Raw: callers must go through sys/watch.ts, which guards the fd first. */
export const uvPoll = koffi.node.poll;

/** unshare(2) and setns(2) act on the calling thread only: the manager uses them on its main
 * thread to make a namespace and come back at once (sys/namespace.ts). */
export const namespaceCalls = {
  unshare: libc.func('int unshare(int flags)'),
  setns: libc.func('int setns(int fd, int nstype)'),
  memfd_create: libc.func('int memfd_create(const char *name, uint32_t flags)'),
  ioctl: libc.func('int ioctl(int fd, unsigned long request, void *arg)'),
  lseek: libc.func('int64_t lseek(int fd, int64_t offset, int whence)'),
};

function loadSeccomp() {
  const lib = koffi.load('libseccomp.so.2');
  return {
    init: lib.func('void *seccomp_init(uint32_t defaultAction)'),
    release: lib.func('void seccomp_release(void *ctx)'),
    archAdd: lib.func('int seccomp_arch_add(void *ctx, uint32_t arch)'),
    archNative: lib.func('uint32_t seccomp_arch_native()'),
    attrSet: lib.func('int seccomp_attr_set(void *ctx, int attr, uint32_t value)'),
    resolveName: lib.func('int seccomp_syscall_resolve_name(const char *name)'),
    ruleAddArray: lib.func(
      'int seccomp_rule_add_array(void *ctx, uint32_t action, int syscall, unsigned int count, const void *args)',
    ),
    exportBpf: lib.func('int seccomp_export_bpf(void *ctx, int fd)'),
  };
}

let seccompLib: ReturnType<typeof loadSeccomp> | undefined;

/** libseccomp (Debian libseccomp2), loaded on first use: only units with seccomp keys need it,
 * and a machine without it must still run every other unit. Throws when it is missing. */
export function seccompCalls(): ReturnType<typeof loadSeccomp> {
  seccompLib ??= loadSeccomp();
  return seccompLib;
}
