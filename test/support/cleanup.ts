import { removeTempDirs } from './repo';

// Runs after each test file's own afterAll hooks (registered first, so it runs last).
afterAll(() => {
  removeTempDirs();
});
