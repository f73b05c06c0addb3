import type { TestProject } from "vitest/node";
export default async function setup(project: TestProject) {
  project.provide("probe", "hello-from-setup");
}
declare module "vitest" { export interface ProvidedContext { probe: string } }
