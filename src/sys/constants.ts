// Linux constants (x86_64/arm64 values; identical on every Linux architecture Node ships for,
// except where a comment says otherwise). Named as in the C headers so a reader can grep them.

export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const AF_VSOCK = 40;

export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_SEQPACKET = 5;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;

export const IPPROTO_IP = 0;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_SCTP = 132;
export const IPPROTO_UDPLITE = 136;
export const IPPROTO_MPTCP = 262;

export const SOL_SOCKET = 1;
export const SOL_IP = 0;
export const SOL_TCP = 6;
export const SOL_SCTP = 132;
export const SOL_MPTCP = 284;

// SOL_SOCKET options
export const SO_REUSEADDR = 2;
export const SO_TYPE = 3;
export const SO_ERROR = 4;
export const SO_BROADCAST = 6;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_KEEPALIVE = 9;
export const SO_PRIORITY = 12;
export const SO_LINGER = 13;
export const SO_REUSEPORT = 15;
export const SO_PASSCRED = 16;
export const SO_PEERCRED = 17;
export const SO_BINDTODEVICE = 25;
export const SO_TIMESTAMP = 29; // SO_TIMESTAMP_OLD on 64-bit
export const SO_ACCEPTCONN = 30;
export const SO_PASSSEC = 34;
export const SO_TIMESTAMPNS = 35; // SO_TIMESTAMPNS_OLD on 64-bit
export const SO_MARK = 36;
export const SO_PROTOCOL = 38;
export const SO_DOMAIN = 39;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const SO_COOKIE = 57;
export const SO_ZEROCOPY = 60;
export const SO_PASSPIDFD = 76;
export const SO_PEERPIDFD = 77;
export const SO_PASSRIGHTS = 83;

// IPPROTO_IP options
export const IP_TOS = 1;
export const IP_TTL = 2;
export const IP_PKTINFO = 8;
export const IP_FREEBIND = 15;
export const IP_TRANSPARENT = 19;
export const IP_MINTTL = 21;

// IPPROTO_IPV6 options
export const IPV6_UNICAST_HOPS = 16;
export const IPV6_V6ONLY = 26;
export const IPV6_RECVPKTINFO = 49;
export const IPV6_MINHOPCOUNT = 73;
export const IPV6_TRANSPARENT = 75;
export const IPV6_FREEBIND = 78;

// IPPROTO_TCP options
export const TCP_NODELAY = 1;
export const TCP_KEEPIDLE = 4;
export const TCP_KEEPINTVL = 5;
export const TCP_KEEPCNT = 6;
export const TCP_DEFER_ACCEPT = 9;
export const TCP_WINDOW_CLAMP = 10;
export const TCP_INFO = 11;
export const TCP_QUICKACK = 12;
export const TCP_CONGESTION = 13;
export const TCP_MD5SIG = 14;
export const TCP_USER_TIMEOUT = 18;
export const TCP_ULP = 31;
export const TCP_IS_MPTCP = 43;

export const SCTP_NODELAY = 3;

// SOL_MPTCP options
export const MPTCP_INFO = 1;
export const MPTCP_TCPINFO = 2;
export const MPTCP_SUBFLOW_ADDRS = 3;
export const MPTCP_FULL_INFO = 4;

export const SHUT_WR = 1;
export const SHUT_RDWR = 2;

// fcntl
export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_SETPIPE_SZ = 1031;
export const F_GETPIPE_SZ = 1032;
export const FD_CLOEXEC = 1;

// open(2) flags
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_CREAT = 0o100;
export const O_NOCTTY = 0o400;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const O_NOFOLLOW = 0o400000;

// poll(2)
export const POLLIN = 0x001;
export const POLLPRI = 0x002;
export const POLLOUT = 0x004;
export const POLLERR = 0x008;
export const POLLHUP = 0x010;
export const POLLNVAL = 0x020;

// Control messages
export const SCM_RIGHTS = 1;
export const SCM_CREDENTIALS = 2;

export const MSG_DONTWAIT = 0x40;
export const MSG_TRUNC = 0x20;
export const MSG_CTRUNC = 0x08;
export const MSG_NOSIGNAL = 0x4000;
export const MSG_CMSG_CLOEXEC = 0x40000000;

// Netlink protocols (ListenNetlink= family names map onto these)
export const NETLINK_ROUTE = 0;
export const NETLINK_SOCK_DIAG = 4;
export const SOL_NETLINK = 270;
export const NETLINK_PKTINFO = 3;

// vsock
export const VMADDR_CID_ANY = 0xffffffff;
export const VMADDR_PORT_ANY = 0xffffffff;

// epoll(7) / eventfd(2)
export const EPOLL_CLOEXEC = 0o2000000;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLL_CTL_MOD = 3;
export const EPOLLIN = 0x001;
export const EPOLLOUT = 0x004;
export const EPOLLERR = 0x008;
export const EPOLLHUP = 0x010;
export const EPOLLRDHUP = 0x2000;
export const EPOLLONESHOT = 1 << 30;
export const EFD_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;

// splice(2)
export const SPLICE_F_MOVE = 1;
export const SPLICE_F_NONBLOCK = 2;
export const SPLICE_F_MORE = 4;

// waitid(2)
export const P_ALL = 0;
export const P_PID = 1;
export const P_PIDFD = 3;
export const WNOHANG = 1;
export const WEXITED = 4;
export const WNOWAIT = 0x01000000;
/** waitid: only children of the calling thread (orphans are re-parented to the main thread). */
export const __WNOTHREAD = 0x20000000;
export const CLD_EXITED = 1;
export const CLD_KILLED = 2;
export const CLD_DUMPED = 3;
export const SYS_pidfd_open = 434; // the same number on every architecture (unified syscall table)

// posix_spawnattr_setflags (glibc)
export const POSIX_SPAWN_SETSIGDEF = 0x04;
export const POSIX_SPAWN_SETSIGMASK = 0x08;
export const POSIX_SPAWN_SETSID = 0x80;

/** Netlink family names `ListenNetlink=` accepts (systemd's table), with their numbers. */
export const NETLINK_FAMILIES = {
  route: 0,
  firewall: 3,
  'inet-diag': 4,
  nflog: 5,
  xfrm: 6,
  selinux: 7,
  iscsi: 8,
  audit: 9,
  'fib-lookup': 10,
  connector: 11,
  netfilter: 12,
  'ip6-fw': 13,
  dnrtmsg: 14,
  'kobject-uevent': 15,
  generic: 16,
  scsitransport: 18,
  ecryptfs: 19,
  rdma: 20,
} as const;
