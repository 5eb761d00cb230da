/**
 * A BIOS-bootable MBR disk without loop devices or mounts: the partition table is written
 * here, and GRUB's i386-pc images are embedded the way `grub-bios-setup` does it:
 *
 * - sector 0: GRUB's boot.img (446 bytes of code) + our partition table + 0x55AA;
 *   its "kernel sector" field points at LBA 1;
 * - sectors 1..n: core.img (made by grub-mkimage), in the gap before the first partition.
 *   Its first sector (diskboot.img) ends with a blocklist naming where the rest lives
 *   (LBA 2, n-1 sectors, loaded at segment 0x820).
 *
 * Offsets are from GRUB's include/grub/i386/pc/boot.h and util/setup.c (2.06).
 */

export const SECTOR = 512;

const BPB_START = 0x03;
const BPB_END = 0x5a;
const KERNEL_SECTOR = 0x5c; // u64 LE: LBA of core.img's first sector
const BOOT_DRIVE = 0x64; // 0xff: use the drive the BIOS passed in DL
const DRIVE_CHECK = 0x66; // 2-byte jmp that hard-disk installs replace with NOPs
const DISK_SIGNATURE = 0x1b8; // u32 LE (then 2 reserved bytes)
const PART_START = 0x1be;
const PART_END = 0x1fe;
/** diskboot.img: `struct { u64 start; u16 len; u16 segment; }` at the end of the sector. */
const BLOCKLIST = SECTOR - 12;
const KERNEL_SEGMENT_AFTER_DISKBOOT = 0x820;

export interface MbrPartition {
  startLba: number;
  sectors: number;
  /** Partition type byte, 0x83 = Linux. */
  type: number;
  bootable: boolean;
}

/** CHS triple for an LBA in the usual 255-head/63-sector translation, or the "too big" marker. */
export function chsBytes(lba: number): [number, number, number] {
  const heads = 255;
  const spt = 63;
  const c = Math.floor(lba / (heads * spt));
  if (c > 1023) return [0xfe, 0xff, 0xff];
  const h = Math.floor(lba / spt) % heads;
  const s = (lba % spt) + 1;
  return [h, (s & 0x3f) | ((c >> 2) & 0xc0), c & 0xff];
}

/** A 512-byte sector 0 holding only a partition table (no boot code). */
export function mbrWithPartitions(parts: MbrPartition[], diskSignature: number): Buffer {
  if (parts.length > 4) throw new Error('an MBR holds at most 4 primary partitions');
  const buf = Buffer.alloc(SECTOR);
  buf.writeUInt32LE(diskSignature >>> 0, DISK_SIGNATURE);
  parts.forEach((p, i) => {
    if (!Number.isInteger(p.startLba) || !Number.isInteger(p.sectors) || p.startLba < 1 || p.sectors < 1) {
      throw new Error(`bad partition ${i + 1}: start ${p.startLba}, ${p.sectors} sectors`);
    }
    if (p.startLba + p.sectors > 0x1_0000_0000) throw new Error('MBR partitions must end below 2 TiB');
    const o = PART_START + 16 * i;
    buf[o] = p.bootable ? 0x80 : 0x00;
    Buffer.from(chsBytes(p.startLba)).copy(buf, o + 1);
    buf[o + 4] = p.type;
    Buffer.from(chsBytes(p.startLba + p.sectors - 1)).copy(buf, o + 5);
    buf.writeUInt32LE(p.startLba, o + 8);
    buf.writeUInt32LE(p.sectors, o + 12);
  });
  buf[0x1fe] = 0x55;
  buf[0x1ff] = 0xaa;
  return buf;
}

/**
 * GRUB's boot.img patched for a hard disk whose core.img starts at `coreLba`, keeping the
 * BPB area, disk signature and partition table of the existing sector 0.
 */
export function grubBootSector(bootImg: Buffer, existingSector0: Buffer, coreLba = 1): Buffer {
  if (bootImg.length !== SECTOR) throw new Error(`boot.img must be ${SECTOR} bytes, got ${bootImg.length}`);
  if (existingSector0.length !== SECTOR) throw new Error('sector 0 must be 512 bytes');
  const out = Buffer.from(bootImg);
  existingSector0.copy(out, BPB_START, BPB_START, BPB_END);
  existingSector0.copy(out, DISK_SIGNATURE, DISK_SIGNATURE, PART_END);
  out.writeBigUInt64LE(BigInt(coreLba), KERNEL_SECTOR);
  out[BOOT_DRIVE] = 0xff;
  out[DRIVE_CHECK] = 0x90;
  out[DRIVE_CHECK + 1] = 0x90;
  out[0x1fe] = 0x55;
  out[0x1ff] = 0xaa;
  return out;
}

/**
 * core.img with its first blocklist pointing at the sectors right after its first one
 * (contiguous embedding at `coreLba`), and a terminator after it. The result is padded to
 * whole sectors.
 */
export function embeddedCoreImage(coreImg: Buffer, coreLba = 1): Buffer {
  if (coreImg.length < SECTOR) throw new Error('core.img is smaller than one sector');
  const sectors = Math.ceil(coreImg.length / SECTOR);
  if (sectors > 0xffff) throw new Error('core.img is too large');
  const out = Buffer.alloc(sectors * SECTOR);
  coreImg.copy(out);
  out.writeBigUInt64LE(BigInt(coreLba + 1), BLOCKLIST);
  out.writeUInt16LE(sectors - 1, BLOCKLIST + 8);
  out.writeUInt16LE(KERNEL_SEGMENT_AFTER_DISKBOOT, BLOCKLIST + 10);
  out.fill(0, BLOCKLIST - 12, BLOCKLIST); // terminator entry
  return out;
}
