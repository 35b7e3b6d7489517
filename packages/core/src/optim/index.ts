// Optimisation: AdamW, weight-decay parameter groups, gradient clipping and schedules.
export * from './adamw.js';
export * from './clip.js';
export * from './param-groups.js';
export * from './schedules.js';
