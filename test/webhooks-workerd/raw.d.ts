// Vite's `?raw` imports (a file's text, exact): the platform fixtures are read this way in workerd, which has no fs.
declare module '*?raw' {
  const text: string;
  export default text;
}
