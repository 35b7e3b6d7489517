// An EMA ("momentum") teacher, as in BYOL/DINO/MOCA and lightly's update_momentum: frozen copies of the
// student's parameters, moved towards the student after each optimiser step by
// teacher = m * teacher + (1 - m) * student. Its variables are created with trainable = false, so
// gradients (tf.variableGrads, optimisers) never reach them. The momentum schedule is not here: pass
// the step's momentum (e.g. cosineMomentum from optim/schedules.ts).
import * as tf from '@tensorflow/tfjs-core';
import { cloneAsFrozen, disposeParams, type ParamTree, type VariableTree } from '../nn/params.js';

export class EmaTeacher {
  /** Frozen (non-trainable) variables, same names and shapes as the student's record. */
  readonly params: VariableTree;

  /** Copies the student's current values; `owner` prefixes the variables' names. */
  constructor(student: ParamTree, owner = 'teacher') {
    this.params = cloneAsFrozen(owner, student);
  }

  /**
   * teacher = momentum * teacher + (1 - momentum) * student for every parameter, in place. The
   * student must have exactly the teacher's names and shapes (the error names the parameter).
   * momentum = 1 leaves the teacher unchanged (and skips the work, as the reference does).
   */
  update(student: ParamTree, momentum: number): void {
    if (!(momentum >= 0 && momentum <= 1)) throw new Error(`EmaTeacher.update: momentum must be in [0, 1], got ${momentum}`);
    for (const name of Object.keys(student)) {
      if (!(name in this.params)) throw new Error(`EmaTeacher.update: student parameter '${name}' has no teacher counterpart`);
    }
    for (const [name, t] of Object.entries(this.params)) {
      const s = student[name];
      if (!s) throw new Error(`EmaTeacher.update: teacher parameter '${name}' is missing from the student`);
      if (s.shape.join() !== t.shape.join()) {
        throw new Error(`EmaTeacher.update: parameter '${name}' has shape [${s.shape}] in the student, [${t.shape}] in the teacher`);
      }
    }
    if (momentum === 1) return;
    tf.tidy(() => {
      const m = tf.scalar(momentum);
      const rest = tf.scalar(1 - momentum);
      for (const [name, t] of Object.entries(this.params)) {
        t.assign(tf.add(tf.mul(t, m), tf.mul(student[name]!, rest)));
      }
    });
  }

  /** Disposes the teacher's variables. */
  dispose(): void {
    disposeParams(this.params);
  }
}
