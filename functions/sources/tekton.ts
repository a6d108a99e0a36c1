/**
 * Tekton TaskRun and PipelineRun (tekton.dev/v1 `status.results`; v1beta1 `status.taskResults` / `status.pipelineResults`): the
 * images a successful run built, read from the results that Tekton Chains type-hints (chains docs/config.md and
 * docs/slsa-provenance.md, and pkg/artifacts/signable.go), in this order:
 * 1. `*IMAGE_URL` + `*IMAGE_DIGEST` sharing a prefix (the empty prefix included);
 * 2. `IMAGES`: `ref@digest` entries separated by commas or newlines;
 * 3. `*ARTIFACT_URI` + `*ARTIFACT_DIGEST` sharing a prefix;
 * 4. `*ARTIFACT_OUTPUTS`: object results `{uri, digest}` (`isBuildArtifact` is not consulted: every output that is an image is
 *    one we want analysed).
 * Values are trimmed as Chains trims them. Anything without a valid digest, or whose uri is not an image reference (a purl, a
 * file URL), is skipped with a reason. Only the run's own results count: a PipelineRun's child TaskRuns are objects of their own.
 */
import { isRecord, sourceRef, type KubeObject } from '../kube/object.js';
import { ImageSet, isCommitId, pinImage, runCompletion, SkipList, type RunExtraction } from './run.js';

const PAIRS = [{ uri: 'IMAGE_URL', digest: 'IMAGE_DIGEST' }, { uri: 'ARTIFACT_URI', digest: 'ARTIFACT_DIGEST' }] as const;
const IMAGES = 'IMAGES';
const ARTIFACT_OUTPUTS = 'ARTIFACT_OUTPUTS';

type Results = ReadonlyMap<string, unknown>;

function resultsField(apiVersion: string, kind: string): string {
  if (apiVersion === 'tekton.dev/v1') return 'results';
  return kind === 'TaskRun' ? 'taskResults' : 'pipelineResults';
}

function readResults(status: Record<string, unknown>, field: string, skipped: SkipList): Results {
  const results = new Map<string, unknown>();
  const list = status[field];
  if (list === undefined || list === null) return results;
  if (!Array.isArray(list)) {
    skipped.add(`status.${field}`, 'expected a list');
    return results;
  }
  list.forEach((entry: unknown, index) => {
    const name = isRecord(entry) ? entry['name'] : undefined;
    if (!isRecord(entry) || typeof name !== 'string' || name === '') skipped.add(`status.${field}[${index}]`, 'expected {name, value}');
    else if (results.has(name)) skipped.add(name, 'duplicate result name; the first one is used');
    else results.set(name, entry['value']);
  });
  return results;
}

/** The trimmed string value, or undefined (and a skip entry) when it is unusable. */
function stringValue(name: string, value: unknown, skipped: SkipList): string | undefined {
  if (typeof value !== 'string') {
    skipped.add(name, 'expected a string value');
    return undefined;
  }
  const trimmed = value.trim();
  if (trimmed === '') {
    skipped.add(name, 'empty value');
    return undefined;
  }
  return trimmed;
}

function addPairs(results: Results, pair: (typeof PAIRS)[number], images: ImageSet, skipped: SkipList): void {
  // null: present but unusable (already reported), so its partner is not reported again.
  const byPrefix = new Map<string, { uri?: string | null; digest?: string | null }>();
  for (const [name, value] of results) {
    const role = name.endsWith(pair.uri) ? 'uri' : name.endsWith(pair.digest) ? 'digest' : undefined;
    if (role === undefined) continue;
    const prefix = name.slice(0, name.length - pair[role].length);
    const entry = byPrefix.get(prefix) ?? {};
    entry[role] = stringValue(name, value, skipped) ?? null;
    byPrefix.set(prefix, entry);
  }
  for (const [prefix, { uri, digest }] of byPrefix) {
    const uriName = prefix + pair.uri;
    if (uri === null || digest === null) continue;
    if (uri === undefined) {
      skipped.add(prefix + pair.digest, `no matching ${uriName} result`);
      continue;
    }
    if (digest === undefined) {
      skipped.add(uriName, `no matching ${prefix + pair.digest} result`);
      continue;
    }
    const pinned = pinImage(uri, digest);
    if (pinned.ok) images.add(pinned.image);
    else skipped.add(uriName, pinned.why);
  }
}

function addImagesList(results: Results, images: ImageSet, skipped: SkipList): void {
  if (!results.has(IMAGES)) return;
  const list = stringValue(IMAGES, results.get(IMAGES), skipped);
  if (list === undefined) return;
  const entries = list.split(/[,\n]/).map((entry) => entry.trim()).filter((entry) => entry !== '');
  entries.forEach((entry, index) => {
    const at = entry.lastIndexOf('@');
    if (at < 0) {
      skipped.add(IMAGES, `entry ${index + 1}: no digest`);
      return;
    }
    const pinned = pinImage(entry.slice(0, at), entry.slice(at + 1));
    if (pinned.ok) images.add(pinned.image);
    else skipped.add(IMAGES, `entry ${index + 1}: ${pinned.why}`);
  });
}

function addArtifactOutputs(results: Results, images: ImageSet, skipped: SkipList): void {
  for (const [name, value] of results) {
    if (!name.endsWith(ARTIFACT_OUTPUTS)) continue;
    if (!isRecord(value)) {
      skipped.add(name, 'expected an object {uri, digest}');
      continue;
    }
    const uri = typeof value['uri'] === 'string' ? value['uri'].trim() : '';
    const digest = typeof value['digest'] === 'string' ? value['digest'].trim() : '';
    if (uri === '' || digest === '') {
      skipped.add(name, `missing ${uri === '' ? 'uri' : 'digest'}`);
      continue;
    }
    const pinned = pinImage(uri, digest);
    if (pinned.ok) images.add(pinned.image);
    else skipped.add(name, pinned.why);
  }
}

/** Reads a TaskRun or PipelineRun; never throws. */
export function extractTektonImages(object: KubeObject): RunExtraction {
  const ref = sourceRef(object);
  const status = object.raw['status'];
  const completion = runCompletion(ref, status);
  if ('unfinished' in completion) return completion.unfinished;
  const skipped = new SkipList();
  const results = readResults(isRecord(status) ? status : {}, resultsField(object.apiVersion, object.kind), skipped);
  const images = new ImageSet();
  addPairs(results, PAIRS[0], images, skipped);
  addImagesList(results, images, skipped);
  addPairs(results, PAIRS[1], images, skipped);
  addArtifactOutputs(results, images, skipped);
  // Chains' type hint for the source a run built (its provenance's material): the commit, when the run reports it.
  const revision = results.get('CHAINS-GIT_COMMIT');
  return { state: 'succeeded', ref, outcome: completion.outcome, images: images.toArray(), skipped: skipped.toArray(), ...(isCommitId(revision) ? { revision } : {}) };
}

