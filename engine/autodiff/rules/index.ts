// The rule table: ONNX op type → backward rule.

import * as E from './elementwise';
import { MatMul } from './matmul';
import * as R from './reduce';
import * as S from './shape';
import type { GradRule } from './types';

export const RULES: Record<string, GradRule> = {
  Add: E.Add,
  Sub: E.Sub,
  Mul: E.Mul,
  Div: E.Div,
  Neg: E.Neg,
  Identity: E.Identity,
  Exp: E.Exp,
  Log: E.Log,
  Sqrt: E.Sqrt,
  Reciprocal: E.Reciprocal,
  Sigmoid: E.Sigmoid,
  Tanh: E.Tanh,
  Cos: E.Cos,
  Sin: E.Sin,
  Abs: E.Abs,
  Relu: E.Relu,
  Pow: E.Pow,
  Max: E.Max,
  Min: E.Min,
  Where: E.Where,
  Cast: E.Cast,
  MatMul,
  ReduceSum: R.ReduceSum,
  ReduceMean: R.ReduceMean,
  ReduceMax: R.ReduceMax,
  Softmax: R.Softmax,
  LogSoftmax: R.LogSoftmax,
  Reshape: S.ReshapeLike,
  Squeeze: S.ReshapeLike,
  Unsqueeze: S.ReshapeLike,
  Flatten: S.ReshapeLike,
  Transpose: S.Transpose,
  Concat: S.Concat,
  Split: S.Split,
  Slice: S.Slice,
  Gather: S.Gather,
  GatherElements: S.GatherElements,
  Expand: S.Expand,
  Pad: S.Pad,
};
