/**
 * A test double of Linux configfs-tsm for `@veritee/server`'s `TsmFileSystem`
 * (structurally typed: the testkit does not depend on the server).
 */
import path from "node:path";

/** The file operations `readTsmReport` uses (structurally `TsmFileSystem`). */
export interface TsmFileOps {
  mkdir(dir: string): Promise<unknown>;
  rmdir(dir: string): Promise<void>;
  writeFile(file: string, data: Uint8Array | string): Promise<void>;
  readFile(file: string): Promise<Uint8Array>;
  stat(file: string): Promise<{ isDirectory(): boolean }>;
}

/**
 * An in-memory model of the kernel's configfs-tsm ABI (drivers/virt/coco/tsm.c):
 * report instances are directories made by mkdir; writing inblob or privlevel
 * bumps `generation`; outblob is made from the last inblob. There is no
 * confidential VM on the test machine, so this model is what the protocol
 * (instance per call, generation check, cleanup, failures) is tested against.
 * `report` makes the outblob from the instance's inblob (default: a stand-in
 * of a marker byte, the privlevel and the report data); the end-to-end tests
 * give one that signs a forged SNP report.
 */
export class FakeTsm implements TsmFileOps {
  readonly dirs = new Map<string, { inblob?: Uint8Array; generation: number; privlevel?: number }>();
  removed: string[] = [];
  /** Called on every outblob read: lets a test play a concurrent writer. */
  onOutblobRead: ((dir: string) => void) | undefined;
  constructor(
    readonly root: string,
    readonly provider = "sev_guest",
    /** null: the provider has no auxblob (TDX). */
    readonly aux: Uint8Array | null = Uint8Array.of(1, 2, 3),
    readonly report?: (inblob: Uint8Array, privlevel: number | undefined) => Uint8Array,
  ) {}

  async stat(file: string) {
    if (file !== path.join(this.root, "report")) throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
    return { isDirectory: () => true };
  }
  async mkdir(dir: string) {
    if (path.dirname(dir) !== path.join(this.root, "report")) throw Object.assign(new Error("x"), { code: "ENOENT" });
    if (this.dirs.has(dir)) throw Object.assign(new Error("x"), { code: "EEXIST" });
    this.dirs.set(dir, { generation: 0 });
  }
  async rmdir(dir: string) {
    this.dirs.delete(dir);
    this.removed.push(dir);
  }
  async writeFile(file: string, data: Uint8Array | string) {
    const inst = this.instance(file);
    const name = path.basename(file);
    if (name === "inblob") {
      if (typeof data === "string" || data.length > 64) throw Object.assign(new Error("x"), { code: "EINVAL" });
      inst.inblob = Uint8Array.from(data);
    } else if (name === "privlevel") inst.privlevel = Number(String(data).trim());
    else throw Object.assign(new Error("x"), { code: "EACCES" });
    inst.generation++;
  }
  async readFile(file: string): Promise<Uint8Array> {
    const inst = this.instance(file);
    const name = path.basename(file);
    const text = (s: string) => new TextEncoder().encode(s);
    switch (name) {
      case "generation":
        return text(`${inst.generation}\n`);
      case "provider":
        return text(`${this.provider}\n`);
      case "outblob": {
        this.onOutblobRead?.(path.dirname(file));
        if (this.report) return this.report(inst.inblob ?? new Uint8Array(0), inst.privlevel);
        // A stand-in report: a marker, the privlevel and the 64 bytes of report data.
        const out = new Uint8Array(66);
        out[0] = 0xaa;
        out[1] = inst.privlevel ?? 0;
        out.set(inst.inblob ?? new Uint8Array(0), 2);
        return out;
      }
      case "auxblob":
        if (this.aux === null) throw Object.assign(new Error("x"), { code: "EOPNOTSUPP" });
        return this.aux;
      default:
        throw Object.assign(new Error("x"), { code: "ENOENT" });
    }
  }
  private instance(file: string) {
    const inst = this.dirs.get(path.dirname(file));
    if (!inst) throw Object.assign(new Error("x"), { code: "ENOENT" });
    return inst;
  }
}
