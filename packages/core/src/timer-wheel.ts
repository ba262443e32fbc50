/**
 * Many deadlines on one timer: callbacks are grouped in 5 ms slots and a single `setTimeout` waits for the
 * earliest slot. Adding and cancelling a deadline costs a Set operation instead of a timer of its own, and the
 * timer keeps the process alive only while some deadline is pending.
 */
const resolution = 5;
const slots = new Map<number, Set<() => void>>();
let timer: NodeJS.Timeout | undefined;
let armedSlot = Number.POSITIVE_INFINITY;
let pending = 0;
/** The latest slot made. */
let newest = Number.NEGATIVE_INFINITY;

/** Calls `callback` once `at` (epoch ms) has passed, up to one slot late; returns a cancel function. */
export function atDeadline(at: number, callback: () => void): () => void {
  const slot = Math.ceil(at / resolution);
  let set = slots.get(slot);
  if (set === undefined) {
    if (slot > newest) {
      const previous = slots.get(newest);
      if (previous !== undefined && previous.size === 0) slots.delete(newest);
      newest = slot;
    }
    set = new Set();
    slots.set(slot, set);
  }
  set.add(callback);
  if (pending++ === 0) timer?.ref();
  if (slot < armedSlot) arm(slot);
  const owner = set;
  return () => {
    if (!owner.delete(callback)) return;
    // An emptied slot goes at once (calls that finish long before their deadline leave nothing to sweep), but
    // for the newest slot, which the next call most likely lands in again: at most one empty slot is kept.
    if (owner.size === 0 && slot !== newest && slots.get(slot) === owner) slots.delete(slot);
    if (--pending === 0) timer?.unref();
  };
}

function arm(slot: number): void {
  if (timer !== undefined) clearTimeout(timer);
  armedSlot = slot;
  timer = setTimeout(fire, Math.max(0, slot * resolution - Date.now()));
  if (pending === 0) timer.unref();
}

function fire(): void {
  timer = undefined;
  armedSlot = Number.POSITIVE_INFINITY;
  const now = Date.now();
  let earliest = Number.POSITIVE_INFINITY;
  for (const [slot, set] of slots) {
    if (slot * resolution <= now) {
      slots.delete(slot);
      pending -= set.size;
      for (const callback of set) callback();
    } else if (set.size === 0) slots.delete(slot);
    else if (slot < earliest) earliest = slot;
  }
  if (earliest !== Number.POSITIVE_INFINITY) arm(earliest);
}
