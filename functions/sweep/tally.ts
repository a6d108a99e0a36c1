/** What a sweep counts: per kind, objects listed and what became of them; its summary. */
export type SweepOutcome = 'submitted' | 'skipped' | 'busy' | 'refused' | 'failed';
const OUTCOMES: readonly SweepOutcome[] = ['submitted', 'skipped', 'busy', 'refused', 'failed'];

export type KindCounts = { listed: number } & Record<SweepOutcome, number>;

export interface SweepSummary {
  readonly namespaces: readonly string[];
  /** Per kind: objects listed, and what became of them (skipped = nothing to do). */
  readonly kinds: Readonly<Record<string, Readonly<KindCounts>>>;
  /** Objects picked for analysis (at most the batch). */
  readonly picked: number;
  readonly submitted: number;
  /** Claimed by another live process: its work, or the next sweep's once the claim expires. */
  readonly busy: number;
  readonly refused: number;
  readonly failed: number;
  /** False when the batch filled up or the sweep stopped early: the next sweep goes on. */
  readonly complete: boolean;
  /** Collections that could not be listed for good (CRD not installed, no RBAC). */
  readonly unavailable: readonly string[];
  /** Why the sweep stopped early, if it did. */
  readonly stoppedEarly?: string;
}


export class Tally {
  readonly kinds: Record<string, KindCounts> = {};
  picked = 0;
  complete = true;
  stoppedEarly: string | undefined;
  readonly unavailable: string[] = [];

  constructor(readonly namespaces: readonly string[], private readonly onOutcome: (kind: string, outcome: SweepOutcome) => void) {}

  of(kind: string): KindCounts {
    return (this.kinds[kind] ??= { listed: 0, submitted: 0, skipped: 0, busy: 0, refused: 0, failed: 0 });
  }

  count(kind: string, outcome: SweepOutcome): void {
    this.of(kind)[outcome] += 1;
    this.onOutcome(kind, outcome);
  }

  summary(): SweepSummary {
    const total = (key: SweepOutcome) => Object.values(this.kinds).reduce((sum, counts) => sum + counts[key], 0);
    const [submitted, , busy, refused, failed] = OUTCOMES.map(total) as [number, number, number, number, number];
    return {
      namespaces: this.namespaces,
      kinds: structuredClone(this.kinds),
      picked: this.picked,
      submitted,
      busy,
      refused,
      failed,
      complete: this.complete,
      unavailable: [...this.unavailable],
      ...(this.stoppedEarly !== undefined ? { stoppedEarly: this.stoppedEarly } : {}),
    };
  }
}

