// Waiting for an ApprovalRequest to change without polling: a store calls notify(key)
// whenever what it holds for that key may have changed, and each waiter re-checks its own
// condition then. One EventEmitter event per key, so a waiter wakes only for its request.
import { EventEmitter } from 'node:events';

export class ChangeNotifier {
  private readonly emitter = new EventEmitter();

  constructor() {
    // One listener per waiting agent: many may wait on one popular request.
    this.emitter.setMaxListeners(0);
  }

  notify(key: string): void { this.emitter.emit(key); }

  /** Resolves once `changed()` holds (checked now and on every notify of `key`), after `timeoutMs`, or on abort. */
  wait(key: string, changed: () => boolean, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal?.aborted || timeoutMs <= 0 || changed()) { resolve(); return; }
      const done = () => {
        clearTimeout(timer);
        this.emitter.off(key, check);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const check = () => { if (changed()) done(); };
      const timer = setTimeout(done, timeoutMs);
      this.emitter.on(key, check);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
