// @maskedssl/core/node: everything in '@maskedssl/core' plus what needs Node: dataset files (IDX,
// Fashion-MNIST/MNIST, CIFAR, image folders through sharp), checkpoint folders, run folders as the
// trainer's store, safetensors files, and rebuilding a method from a checkpoint on disk. Importing it
// installs the checkpoint reader that MOMA's teachers are read with.
/** @module @maskedssl/core/node */
export * from './index.js';
export * from './node/idx-files.js';
export * from './node/fashion-mnist.js';
export * from './node/cifar.js';
export * from './node/image-folder.js';
export * from './node/safetensors-files.js';
export * from './node/checkpoint-dir.js';
export * from './node/file-run-store.js';
export * from './node/load-objective.js';
