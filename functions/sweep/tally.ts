/** What a sweep counts: per kind, objects listed and what became of them; its summary. */
export type SweepOutcome = 'submitted' | 'skipped' | 'busy' | 'refused' | 'failed' | 'handed-off';
const OUTCOMES: readonly SweepOutcome[] = ['submitted', 'skipped', 'busy', 'refused', 'failed', 'handed-off'];

export type KindCounts = { listed: number } & Record<SweepOutcome, number>;

export interface SweepSummary {
  readonly namespaces: readonly string[];
  /** Per kind: objects listed, and what became of them (skipped = nothing to do). */
  readonly kinds: Readonly<Record<string, Readonly<KindCounts>>>;
  /** Objects picked: worked on here, or handed to the Broker. */
  readonly picked: number;
  readonly submitted: number;
  /** Sent to the Broker (K_SINK) as dev.build-watcher.object.pending, for any replica to work on. */
  readonly handedOff: number;
  /** Claimed by another live process: its work, or the next sweep's once the claim expires. */
  readonly busy: number;
  readonly refused: number;
  readonly failed: number;
  /** False when picking time ran out or the sweep stopped early: the next sweep goes on. */
  readonly complete: boolean;
  /** A listing failed (the API server unreachable): when nothing was picked either, the sweep could not run at all. */
  readonly listingFailed: boolean;
  /** Collections that could not be listed for good (CRD not installed, no RBAC). */
  readonly unavailable: readonly string[];
  /** Why the sweep stopped early, if it did. */
  readonly stoppedEarly?: string;
}


export class Tally {
  readonly kinds: Record<string, KindCounts> = {};
  picked = 0;
  complete = true;
  listingFailed = false;
  stoppedEarly: string | undefined;
  readonly unavailable: string[] = [];

  constructor(readonly namespaces: readonly string[], private readonly onOutcome: (kind: string, outcome: SweepOutcome) => void) {}

  of(kind: string): KindCounts {
    return (this.kinds[kind] ??= { listed: 0, submitted: 0, skipped: 0, busy: 0, refused: 0, failed: 0, 'handed-off': 0 });
  }

  count(kind: string, outcome: SweepOutcome): void {
    this.of(kind)[outcome] += 1;
    this.onOutcome(kind, outcome);
  }

  summary(): SweepSummary {
    const total = (key: SweepOutcome) => Object.values(this.kinds).reduce((sum, counts) => sum + counts[key], 0);
    const [submitted, , busy, refused, failed, handedOff] = OUTCOMES.map(total) as [number, number, number, number, number, number];
    return {
      namespaces: this.namespaces,
      kinds: structuredClone(this.kinds),
      picked: this.picked,
      submitted,
      handedOff,
      busy,
      refused,
      failed,
      complete: this.complete,
      listingFailed: this.listingFailed,
      unavailable: [...this.unavailable],
      ...(this.stoppedEarly !== undefined ? { stoppedEarly: this.stoppedEarly } : {}),
    };
  }
}

