// The WIT imports the component build links (componentize-js exposes each
// imported interface as an ES module named after it). Only what host-wasm.ts
// uses is declared.

declare module "taylordash:agent/host@0.1.0" {
  export type Level = "trace" | "debug" | "info" | "warn" | "error";
  export function log(level: Level, message: string): void;
  export function emit(topic: string, payload: string): void;
}

declare module "taylordash:agent/exec@0.1.0" {
  export interface Command { program: string; args: string[]; stdin: string | undefined }
  export interface Output { status: number; stdout: string; stderr: string }
  /** Throws a ComponentError whose `payload` is the host's reason. */
  export function run(cmd: Command): Output;
}

declare module "wasi:filesystem/types@0.2.12" {
  export type ErrorCode = string;
  export interface DirectoryEntry { type: string; name: string }
  export class DirectoryEntryStream {
    readDirectoryEntry(): DirectoryEntry | undefined;
  }
  export interface DescriptorStat { type: string; size: bigint }
  export class Descriptor {
    openAt(
      pathFlags: { symlinkFollow?: boolean },
      path: string,
      openFlags: { create?: boolean; directory?: boolean; exclusive?: boolean; truncate?: boolean },
      flags: { read?: boolean; write?: boolean; mutateDirectory?: boolean },
    ): Descriptor;
    read(length: bigint, offset: bigint): [Uint8Array, boolean];
    write(buffer: Uint8Array, offset: bigint): bigint;
    readDirectory(): DirectoryEntryStream;
    createDirectoryAt(path: string): void;
    stat(): DescriptorStat;
  }
}

declare module "wasi:filesystem/preopens@0.2.12" {
  import type { Descriptor } from "wasi:filesystem/types@0.2.12";
  export function getDirectories(): Array<[Descriptor, string]>;
}
