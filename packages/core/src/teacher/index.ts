// The EMA teacher (its momentum schedule lives in optim/schedules.ts).
export { EmaTeacher } from './ema-teacher.js';
