// The one error loaders throw for a bad image or a bad load request. The message is one line that
// starts with the image's name and says what is wrong, e.g.
//   "hello.elf: ELF program header 2 lies outside the file"
// so that the CLI can print it as it is, without a stack trace.

export class LoadError extends Error {
  override name = 'LoadError';
}
