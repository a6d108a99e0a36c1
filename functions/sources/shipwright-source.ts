/** Shipwright BuildRuns as a source kind: the one image a succeeded run pushed, by digest. */
import type { SourceKind } from '../pipeline/source-kind.js';
import { runSource, type RunSourceOptions } from './run-source.js';
import { extractShipwrightImage } from './shipwright.js';

export function shipwrightSource(options: RunSourceOptions): SourceKind {
  return runSource(extractShipwrightImage, options);
}
