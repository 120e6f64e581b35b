// A stdout whose reader never reads, for tests of programs paced by a slow stdout.
import { mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A FIFO whose reader never reads: writes to it block once its 64 KiB buffer is full. Returns a
 * write fd (the caller closes its copy once the program holds one) and the cleanup.
 */
export function stuckReader(): { fd: number; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "socket-lab-stuck-"));
  const fifo = join(dir, "fifo");
  Bun.spawnSync(["mkfifo", fifo]);
  const reader = Bun.spawn(["sh", "-c", `exec sleep 120 < "${fifo}"`]);
  const fd = openSync(fifo, "w");
  return {
    fd,
    cleanup() {
      reader.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
