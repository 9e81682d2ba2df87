export * from './graph';
export * from './session';
