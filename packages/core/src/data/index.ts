// Datasets: the Dataset interface, loaders (IDX/Fashion-MNIST/MNIST, CIFAR, image folders, procedural)
// and the seeded, resumable batch iterator.
export * from './dataset.js';
export * from './uint8-dataset.js';
export * from './idx.js';
export * from './fashion-mnist.js';
export * from './cifar.js';
export * from './image-folder.js';
export * from './procedural.js';
export * from './batcher.js';
