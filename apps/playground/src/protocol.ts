// The messages between the page and its worker (worker.ts), which trains, embeds and classifies so
// that the page stays responsive. Images travel as uint8 pixels [n, H, W, C] with their shape.
import type { BackendName, GpuAdapterReport, StepRecord } from '@maskedssl/core';

export interface Images {
  pixels: Uint8Array;
  /** [H, W, C] */
  shape: [number, number, number];
  labels?: Uint8Array;
  numClasses?: number;
  name: string;
}

export interface TrainRequest {
  method: string;
  backbone: string;
  backend: BackendName;
  /** "300steps", "2m", "1epochs" */
  budget: string;
  batchSize: number;
  /** Online k-NN every N steps (0: off); needs labelled test images. */
  knnEvery: number;
  seed: number;
  train: Images;
  test?: Images;
}

export type ToWorker =
  | { type: 'train'; request: TrainRequest }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'stop' }
  | { type: 'save' }
  /** Load a checkpoint: a single-file checkpoint, or tensors.safetensors + state.json. */
  | { type: 'load'; files: { name: string; bytes: Uint8Array }[]; backend: BackendName }
  /** Features of images with the loaded (or training) network. */
  | { type: 'embed'; images: Images; id: number }
  /** Classify `query` from the labelled examples: the harness's k-NN, and its low-shot logistic regression when `query` is labelled. */
  | { type: 'classify'; labelled: Images; query: Images; id: number }
  /** The method's masks for a few images: which tokens each view or round sees. */
  | { type: 'masks'; images: Images; method: string; backbone: string; id: number };

export interface BackendReport {
  name: BackendName;
  adapter?: GpuAdapterReport;
  skipped: { name: BackendName; reason: string }[];
}

export type FromWorker =
  | { type: 'backend'; backend: BackendReport }
  | { type: 'step'; record: StepRecord }
  | { type: 'message'; text: string }
  | { type: 'paused'; step: number }
  | { type: 'done'; steps: number; stoppedBy: string; seconds: number }
  | { type: 'saved'; name: string; bytes: Uint8Array }
  | { type: 'loaded'; method: string; step: number; backbone: string; dim: number }
  | { type: 'features'; id: number; features: Float32Array; dim: number }
  | { type: 'classified'; id: number; predictions: Int32Array; knnAccuracy?: number; logisticAccuracy?: number; shots: number }
  | {
      type: 'masks';
      id: number;
      grid: number;
      rounds: { label: string; visible: Int32Array[] }[];
      /** Which network drew them: the one training or loaded (its predictions too), or none (masks only). */
      network: string | null;
      /** The reconstructions, uint8 pixels like the images (MAE, SimMIM). */
      reconstruction?: Uint8Array;
      /** Per image, the codeword of each token (MOCA's targets). */
      assignments?: { words: Int32Array[]; numWords: number };
    }
  | { type: 'error'; message: string };
