// npm scripts must run on the Node 24 that the `node` devDependency links; fail loudly on the system Node 20.
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.error(`acihost needs Node >= 22, but this is ${process.version}. Run npm ci (install scripts enabled) so node_modules/.bin/node (Node 24) comes first on the PATH of npm scripts.`);
  process.exit(1);
}
