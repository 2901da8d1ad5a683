import { isMap, isNode, isPair, isScalar, isSeq, LineCounter, Node, parseDocument, Document } from 'yaml';
import { DefinitionError, DefinitionErrorCode, SourceFile } from './definition-error';

/** A parsed YAML file that can say where any of its values is: what turns a JSON pointer into file:line:column. */
export class YamlSource {
  readonly document: Document;
  private readonly lines = new LineCounter();

  constructor(readonly file: SourceFile) {
    // The YAML 1.2 core schema: `no` stays a string and `0123` stays a number only where YAML 1.2 says so.
    this.document = parseDocument(file.text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
  }

  get value(): unknown {
    return this.document.toJS({ maxAliasCount: 100 });
  }

  syntaxErrors(): DefinitionError[] {
    return this.document.errors.map((error) => this.errorAtOffset(error.pos[0], 'yaml', error.message.split('\n')[0] ?? error.message));
  }

  /** The error at the value under `path`; at its key when `atKey`, at the nearest existing parent when it is absent. */
  errorAt(path: readonly (string | number)[], code: DefinitionErrorCode, message: string, atKey = false): DefinitionError {
    return this.errorAtOffset(this.offsetOf(path, atKey), code, message);
  }

  errorAtOffset(offset: number, code: DefinitionErrorCode, message: string): DefinitionError {
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file.path, line, column: col, code, message };
  }

  private offsetOf(path: readonly (string | number)[], atKey: boolean): number {
    let node: unknown = this.document.contents;
    let keyNode: unknown;
    for (const segment of path) {
      if (isMap(node)) {
        const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment));
        if (!pair) break;
        keyNode = pair.key;
        node = pair.value;
      } else if (isSeq(node)) {
        const item = node.items[Number(segment)];
        if (item === undefined) break;
        keyNode = item;
        node = item;
      } else {
        break;
      }
    }
    const target = atKey && keyNode ? keyNode : node;
    return isNode(target) && (target as Node).range ? ((target as Node).range as [number, number, number])[0] : 0;
  }
}
