export { mission } from './mission';
export { feature } from './feature';
