// Placeholder: replaced by the foundation work (starts ONE Temporal dev server and ONE S3 server per run).
export default function setup(): void {}
