// A two-pass assembler for hand-written machine-code listings, and a writer of the smallest
// static ELF64 executable the kernel loads: the ELF header, one PT_LOAD program header and the
// code, mapped read+execute at a fixed address. No section headers (the kernel never reads
// them), no interpreter, no libc: such a file runs on any Linux of its architecture.
//
// The listing keeps each instruction's bytes next to its mnemonic; only branch displacements
// and PC-relative offsets are computed here, from labels, so a listing stays readable and its
// targets cannot drift. test/sys-listen-pid-helper.test.ts disassembles the result with objdump
// and compares it with the listed mnemonics.

/** How a label reference is encoded into an instruction. */
export type RefEncoding =
  /** x86: 8-bit displacement from the end of the instruction, appended after its bytes. */
  | 'x86-rel8'
  /** x86: 32-bit displacement from the end of the instruction, appended after its bytes. */
  | 'x86-rel32'
  /** AArch64 B/BL: word offset from the instruction in bits 25:0. */
  | 'a64-imm26'
  /** AArch64 B.cond/CBZ/CBNZ: word offset from the instruction in bits 23:5. */
  | 'a64-imm19'
  /** AArch64 ADR: byte offset from the instruction, low 2 bits in 30:29, the rest in 23:5. */
  | 'a64-adr';

export interface LabelRef {
  label: string;
  encoding: RefEncoding;
}

/** One line of a listing: a label, an instruction, or named data placed after the code. */
export type ListingLine =
  | { kind: 'label'; name: string }
  | { kind: 'insn'; bytes: Uint8Array; asm: string; ref?: LabelRef }
  | { kind: 'data'; name: string; bytes: Uint8Array };

export const label = (name: string): ListingLine => ({ kind: 'label', name });

/** An x86 instruction: its bytes in file order (`'48 89 e3'`), without a referenced displacement. */
export function x86(hex: string, asm: string, ref?: LabelRef): ListingLine {
  const bytes = Uint8Array.from(hex.split(' ').map((byte) => Number.parseInt(byte, 16)));
  return ref ? { kind: 'insn', bytes, asm, ref } : { kind: 'insn', bytes, asm };
}

/** An AArch64 instruction: its 32-bit word as objdump prints it (stored little-endian), with a
 * referenced offset field left zero. */
export function a64(word: number, asm: string, ref?: LabelRef): ListingLine {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, word, true);
  return ref ? { kind: 'insn', bytes, asm, ref } : { kind: 'insn', bytes, asm };
}

/** A NUL-terminated or plain ASCII string placed after the code. */
export function ascii(name: string, text: string): ListingLine {
  return { kind: 'data', name, bytes: Buffer.from(text, 'latin1') };
}

export interface AssembledInsn {
  offset: number;
  length: number;
  asm: string;
  ref?: LabelRef;
}

export interface Assembled {
  /** Code, then data. */
  bytes: Uint8Array;
  /** Bytes of code before the first data line. */
  codeLength: number;
  /** Label and data names to their offsets in `bytes`. */
  labels: ReadonlyMap<string, number>;
  instructions: readonly AssembledInsn[];
}

function refSize(line: ListingLine): number {
  if (line.kind !== 'insn') return line.kind === 'data' ? line.bytes.length : 0;
  if (line.ref?.encoding === 'x86-rel8') return line.bytes.length + 1;
  if (line.ref?.encoding === 'x86-rel32') return line.bytes.length + 4;
  return line.bytes.length;
}

function checkRange(value: number, bits: number, what: string): number {
  const limit = 2 ** (bits - 1);
  if (value < -limit || value >= limit)
    throw new RangeError(`${what}: offset ${value} does not fit ${bits} bits`);
  return value;
}

function encodeRef(line: ListingLine & { kind: 'insn' }, offset: number, target: number): Uint8Array {
  const ref = line.ref!;
  const what = `'${line.asm}' at 0x${offset.toString(16)}`;
  const size = refSize(line);
  const out = new Uint8Array(size);
  out.set(line.bytes);
  const view = new DataView(out.buffer);
  const delta = target - offset;
  switch (ref.encoding) {
    case 'x86-rel8':
      view.setInt8(line.bytes.length, checkRange(target - (offset + size), 8, what));
      return out;
    case 'x86-rel32':
      view.setInt32(line.bytes.length, checkRange(target - (offset + size), 32, what), true);
      return out;
  }
  if (delta % 4 !== 0 && ref.encoding !== 'a64-adr')
    throw new RangeError(`${what}: target is not word-aligned`);
  let word = view.getUint32(0, true);
  if (ref.encoding === 'a64-imm26') word |= checkRange(delta / 4, 26, what) & 0x3ffffff;
  else if (ref.encoding === 'a64-imm19') word |= (checkRange(delta / 4, 19, what) & 0x7ffff) << 5;
  else word |= ((checkRange(delta, 21, what) & 3) << 29) | (((delta >> 2) & 0x7ffff) << 5);
  view.setUint32(0, word >>> 0, true);
  return out;
}

/** Lays the listing out, resolves label references, and returns the bytes. Throws on an unknown
 * or duplicate label, an out-of-range displacement, or data placed between instructions. */
export function assemble(listing: readonly ListingLine[]): Assembled {
  const labels = new Map<string, number>();
  let offset = 0;
  let codeLength: number | undefined;
  for (const line of listing) {
    const name = line.kind === 'insn' ? undefined : line.name;
    if (name !== undefined) {
      if (labels.has(name)) throw new Error(`listing: label '${name}' is defined twice`);
      labels.set(name, offset);
    }
    if (line.kind === 'data') codeLength ??= offset;
    else if (line.kind === 'insn' && codeLength !== undefined)
      throw new Error(`listing: instruction '${line.asm}' follows data; put data after all code`);
    offset += refSize(line);
  }
  const bytes = new Uint8Array(offset);
  const instructions: AssembledInsn[] = [];
  offset = 0;
  for (const line of listing) {
    if (line.kind === 'label') continue;
    let encoded = line.bytes;
    if (line.kind === 'insn') {
      if (line.ref) {
        const target = labels.get(line.ref.label);
        if (target === undefined)
          throw new Error(`listing: '${line.asm}' refers to unknown label '${line.ref.label}'`);
        encoded = encodeRef(line, offset, target);
      }
      const insn: AssembledInsn = { offset, length: encoded.length, asm: line.asm };
      if (line.ref) insn.ref = line.ref;
      instructions.push(insn);
    }
    bytes.set(encoded, offset);
    offset += encoded.length;
  }
  return { bytes, codeLength: codeLength ?? offset, labels, instructions };
}

/** e_machine values of the architectures we emit code for. */
export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;

const ELF_HEADER_SIZE = 64;
const PROGRAM_HEADER_SIZE = 56;
/** File offset (and offset from the load address) of the first code byte. */
export const ELF_CODE_OFFSET = ELF_HEADER_SIZE + PROGRAM_HEADER_SIZE;

export interface StaticElfOptions {
  machine: number;
  /** Virtual address of file offset 0; a multiple of `align`. */
  loadAddress: bigint;
  /** Largest page size of the architecture (p_align). */
  align: bigint;
  /** Executed from its first byte. */
  code: Uint8Array;
}

/** A static ELF64 little-endian executable whose entry point is the first byte of `code`. The
 * whole file is one read+execute segment: the program must not write to its own image. No
 * PT_GNU_STACK header: for 64-bit x86_64 and AArch64 processes the kernel then keeps the stack
 * non-executable and does not set READ_IMPLIES_EXEC, so nothing leaks into the exec'd program. */
export function staticElf64(options: StaticElfOptions): Uint8Array {
  const size = ELF_CODE_OFFSET + options.code.length;
  const file = new Uint8Array(size);
  const view = new DataView(file.buffer);
  file.set([
    0x7f, 0x45, 0x4c, 0x46, 2 /* ELFCLASS64 */, 1 /* little-endian */, 1 /* EV_CURRENT */, 0 /* SysV */,
  ]);
  view.setUint16(16, 2, true); // e_type ET_EXEC
  view.setUint16(18, options.machine, true);
  view.setUint32(20, 1, true); // e_version
  view.setBigUint64(24, options.loadAddress + BigInt(ELF_CODE_OFFSET), true); // e_entry
  view.setBigUint64(32, BigInt(ELF_HEADER_SIZE), true); // e_phoff
  view.setBigUint64(40, 0n, true); // e_shoff: no section headers
  view.setUint32(48, 0, true); // e_flags
  view.setUint16(52, ELF_HEADER_SIZE, true); // e_ehsize
  view.setUint16(54, PROGRAM_HEADER_SIZE, true); // e_phentsize
  view.setUint16(56, 1, true); // e_phnum
  view.setUint16(58, 0, true); // e_shentsize
  view.setUint16(60, 0, true); // e_shnum
  view.setUint16(62, 0, true); // e_shstrndx
  const ph = ELF_HEADER_SIZE;
  view.setUint32(ph, 1, true); // p_type PT_LOAD
  view.setUint32(ph + 4, 5, true); // p_flags PF_R | PF_X
  view.setBigUint64(ph + 8, 0n, true); // p_offset: the headers are mapped too
  view.setBigUint64(ph + 16, options.loadAddress, true); // p_vaddr
  view.setBigUint64(ph + 24, options.loadAddress, true); // p_paddr
  view.setBigUint64(ph + 32, BigInt(size), true); // p_filesz
  view.setBigUint64(ph + 40, BigInt(size), true); // p_memsz
  view.setBigUint64(ph + 48, options.align, true); // p_align
  file.set(options.code, ELF_CODE_OFFSET);
  return file;
}

/** The static ELF file of a helper program for Node's architecture name (`x64` or `arm64`), from
 * its two listings: loaded at 0x400000, aligned to the architecture's largest page (64 KiB on
 * AArch64, so the segment maps on any kernel). */
export function helperElf(
  arch: 'x64' | 'arm64',
  x86Listing: readonly ListingLine[],
  a64Listing: readonly ListingLine[],
): Uint8Array {
  return arch === 'x64'
    ? staticElf64({
        machine: EM_X86_64,
        loadAddress: 0x400000n,
        align: 0x1000n,
        code: assemble(x86Listing).bytes,
      })
    : staticElf64({
        machine: EM_AARCH64,
        loadAddress: 0x400000n,
        align: 0x10000n,
        code: assemble(a64Listing).bytes,
      });
}
