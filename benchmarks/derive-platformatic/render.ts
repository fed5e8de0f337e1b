/** The derive-platformatic section of docs/benchmarks.md: rendered like benchmarks/derive's (the same harness and results layout). */
export { render } from '../derive/render.js';
