/**
 * The public API report: every name exported by the package's entries (`package.json` `exports`),
 * with its kind and a printed signature, one Markdown file per entry under `etc/`. The files are
 * checked in and `test/api-report.test.ts` compares them with the source, so every change to the
 * public surface shows in a diff.
 *
 * Update: `npm run api:update` (this file with `--write`). Check without writing: `npm run api:check`.
 */

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** The repository's root folder. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** One entry of the package: its import specifier and its source file. */
export interface PackageEntry {
  /** E.g. `ai-task-queue` or `ai-task-queue/machines`. */
  specifier: string;
  /** Relative to the root, e.g. `src/index.ts`. */
  source: string;
  /** The report's file, relative to the root, e.g. `etc/ai-task-queue.api.md`. */
  report: string;
}

/** One exported name as the report prints it. */
export interface ExportedName {
  name: string;
  /** True when it exists at run time (a function, class, constant…), false for a type. */
  isValue: boolean;
  /** Its declarations, printed without comments or bodies. */
  text: string;
}

/** The entries that `package.json` `exports` maps (`./package.json` aside), from their `types`. */
export function packageEntries(root = ROOT): PackageEntry[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    name: string;
    exports: Record<string, string | { types?: string }>;
  };
  const entries: PackageEntry[] = [];
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (typeof target === 'string' || target.types === undefined) continue;
    const source = target.types.replace(/^\.\/dist\//, '').replace(/\.d\.ts$/, '.ts');
    const specifier = subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`;
    entries.push({ specifier, source, report: `etc/${specifier.replace('/', '.')}.api.md` });
  }
  return entries;
}

/** The exported names of each entry, sorted by name. */
export function collectExports(
  entries: readonly PackageEntry[],
  root = ROOT,
): Map<PackageEntry, ExportedName[]> {
  const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  });
  if (config === undefined) throw new Error('cannot read tsconfig.json');
  const files = entries.map((entry) => join(root, entry.source));
  const program = ts.createProgram(files, { ...config.options, noEmit: true });
  const checker = program.getTypeChecker();
  const printer = ts.createPrinter({ removeComments: true, omitTrailingSemicolon: false });
  const result = new Map<PackageEntry, ExportedName[]>();
  for (const entry of entries) {
    const file = program.getSourceFile(join(root, entry.source));
    const moduleSymbol = file && checker.getSymbolAtLocation(file);
    if (moduleSymbol === undefined) throw new Error(`no module at ${entry.source}`);
    const names = checker
      .getExportsOfModule(moduleSymbol)
      .map((symbol) => describe(symbol, checker, printer, root))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    result.set(entry, names);
  }
  return result;
}

/** Follows re-exports to the declaration; a type-only re-export anywhere makes it a type. */
function resolveExport(
  symbol: ts.Symbol,
  checker: ts.TypeChecker,
): { target: ts.Symbol; typeOnly: boolean } {
  let current = symbol;
  let typeOnly = false;
  while (current.flags & ts.SymbolFlags.Alias) {
    if (current.declarations?.some((d) => ts.isTypeOnlyImportOrExportDeclaration(d))) {
      typeOnly = true;
    }
    current = checker.getImmediateAliasedSymbol(current) ?? checker.getAliasedSymbol(current);
  }
  return { target: current, typeOnly };
}

function describe(
  symbol: ts.Symbol,
  checker: ts.TypeChecker,
  printer: ts.Printer,
  root: string,
): ExportedName {
  const name = symbol.getName();
  const { target, typeOnly } = resolveExport(symbol, checker);
  const isValue = !typeOnly && (target.flags & ts.SymbolFlags.Value) !== 0;
  const lines: string[] = [];
  for (const declaration of target.declarations ?? []) {
    const printed = printDeclaration(name, declaration, target, checker, printer, typeOnly);
    if (printed !== undefined) lines.push(printed);
  }
  if (lines.length === 0) {
    const where = target.declarations?.[0]?.getSourceFile().fileName ?? '?';
    lines.push(`// ${name}: declared in ${relative(root, where)}`);
  }
  return { name, isValue, text: lines.join('\n') };
}

const NODE_FLAGS = ts.NodeBuilderFlags.NoTruncation | ts.NodeBuilderFlags.IgnoreErrors;

function isPublicMember(member: ts.Node): boolean {
  const name = (member as { name?: ts.Node }).name;
  if (name !== undefined && ts.isPrivateIdentifier(name)) return false;
  if (!ts.canHaveModifiers(member)) return true;
  const hidden = ts.SyntaxKind.PrivateKeyword;
  const shielded = ts.SyntaxKind.ProtectedKeyword;
  return !(ts.getModifiers(member) ?? []).some((m) => m.kind === hidden || m.kind === shielded);
}

/** Modifiers worth printing: `export` and `declare` say nothing in a report. */
function keptModifiers(node: ts.Node): ts.Modifier[] | undefined {
  if (!ts.canHaveModifiers(node)) return undefined;
  const dropped = [
    ts.SyntaxKind.ExportKeyword,
    ts.SyntaxKind.DeclareKeyword,
    ts.SyntaxKind.DefaultKeyword,
  ];
  const kept = (ts.getModifiers(node) ?? []).filter((m) => !dropped.includes(m.kind));
  return kept.length > 0 ? kept : undefined;
}

/** A declared type, or the checker's reading of it when the source leaves it to inference. */
function typeNodeOf(
  declared: ts.TypeNode | undefined,
  type: () => ts.Type,
  checker: ts.TypeChecker,
  at: ts.Node,
): ts.TypeNode | undefined {
  return declared ?? checker.typeToTypeNode(type(), at, NODE_FLAGS);
}

/** Parameters as a declaration file writes them: defaults become `?`, types spelled out. */
function parametersOf(
  parameters: readonly ts.ParameterDeclaration[],
  checker: ts.TypeChecker,
): ts.ParameterDeclaration[] {
  return parameters.map((p) =>
    ts.factory.updateParameterDeclaration(
      p,
      keptModifiers(p),
      p.dotDotDotToken,
      p.name,
      p.initializer !== undefined
        ? ts.factory.createToken(ts.SyntaxKind.QuestionToken)
        : p.questionToken,
      typeNodeOf(p.type, () => checker.getTypeAtLocation(p), checker, p),
      undefined,
    ),
  );
}

function returnTypeOf(
  node: ts.SignatureDeclaration,
  checker: ts.TypeChecker,
): ts.TypeNode | undefined {
  if (node.type !== undefined) return node.type;
  const signature = checker.getSignatureFromDeclaration(node);
  if (signature === undefined) return undefined;
  return checker.typeToTypeNode(checker.getReturnTypeOfSignature(signature), node, NODE_FLAGS);
}

/** A class member without its body or initializer; `undefined` for a private one. */
function stripMember(
  member: ts.ClassElement,
  checker: ts.TypeChecker,
): ts.ClassElement | undefined {
  if (!isPublicMember(member)) return undefined;
  const f = ts.factory;
  if (ts.isMethodDeclaration(member)) {
    return f.updateMethodDeclaration(
      member,
      keptModifiers(member),
      member.asteriskToken,
      member.name,
      member.questionToken,
      member.typeParameters,
      parametersOf(member.parameters, checker),
      returnTypeOf(member, checker),
      undefined,
    );
  }
  if (ts.isConstructorDeclaration(member)) {
    return f.updateConstructorDeclaration(
      member,
      keptModifiers(member),
      parametersOf(member.parameters, checker),
      undefined,
    );
  }
  if (ts.isPropertyDeclaration(member)) {
    return f.updatePropertyDeclaration(
      member,
      keptModifiers(member),
      member.name,
      member.questionToken ?? member.exclamationToken,
      typeNodeOf(member.type, () => checker.getTypeAtLocation(member), checker, member),
      undefined,
    );
  }
  if (ts.isGetAccessorDeclaration(member)) {
    return f.updateGetAccessorDeclaration(
      member,
      keptModifiers(member),
      member.name,
      [],
      returnTypeOf(member, checker),
      undefined,
    );
  }
  if (ts.isSetAccessorDeclaration(member)) {
    return f.updateSetAccessorDeclaration(
      member,
      keptModifiers(member),
      member.name,
      parametersOf(member.parameters, checker),
      undefined,
    );
  }
  if (ts.isClassStaticBlockDeclaration(member) || ts.isSemicolonClassElement(member)) {
    return undefined;
  }
  return member;
}

function printDeclaration(
  name: string,
  declaration: ts.Declaration,
  symbol: ts.Symbol,
  checker: ts.TypeChecker,
  printer: ts.Printer,
  typeOnly: boolean,
): string | undefined {
  const file = declaration.getSourceFile();
  const f = ts.factory;
  const print = (node: ts.Node) => printer.printNode(ts.EmitHint.Unspecified, node, file);
  const prefix = typeOnly && (symbol.flags & ts.SymbolFlags.Value) !== 0 ? '/* type only */ ' : '';
  if (ts.isInterfaceDeclaration(declaration)) {
    return print(
      f.updateInterfaceDeclaration(
        declaration,
        keptModifiers(declaration),
        declaration.name,
        declaration.typeParameters,
        declaration.heritageClauses,
        declaration.members,
      ),
    );
  }
  if (ts.isTypeAliasDeclaration(declaration)) {
    return print(
      f.updateTypeAliasDeclaration(
        declaration,
        keptModifiers(declaration),
        declaration.name,
        declaration.typeParameters,
        declaration.type,
      ),
    );
  }
  if (ts.isFunctionDeclaration(declaration)) {
    // An overloaded function prints its overloads, not the implementation's signature.
    if (declaration.body !== undefined && (symbol.declarations?.length ?? 0) > 1) return undefined;
    return print(
      f.updateFunctionDeclaration(
        declaration,
        keptModifiers(declaration),
        declaration.asteriskToken,
        declaration.name,
        declaration.typeParameters,
        parametersOf(declaration.parameters, checker),
        returnTypeOf(declaration, checker),
        undefined,
      ),
    );
  }
  if (ts.isClassDeclaration(declaration)) {
    const members = declaration.members
      .map((member) => stripMember(member, checker))
      .filter((member): member is ts.ClassElement => member !== undefined);
    return (
      prefix +
      print(
        f.updateClassDeclaration(
          declaration,
          keptModifiers(declaration),
          declaration.name,
          declaration.typeParameters,
          declaration.heritageClauses,
          members,
        ),
      )
    );
  }
  if (ts.isVariableDeclaration(declaration)) {
    const list = declaration.parent;
    const keyword =
      ts.isVariableDeclarationList(list) && list.flags & ts.NodeFlags.Const ? 'const' : 'let';
    const type = typeNodeOf(
      declaration.type,
      () => checker.getTypeOfSymbol(symbol),
      checker,
      declaration,
    );
    return `${prefix}${keyword} ${name}: ${type === undefined ? 'unknown' : print(type)};`;
  }
  if (ts.isEnumDeclaration(declaration) || ts.isModuleDeclaration(declaration)) {
    return prefix + print(declaration).replace(/^export (declare )?/, '');
  }
  return undefined;
}

/** The report of one entry, as checked in. */
export function renderReport(
  entry: PackageEntry,
  names: readonly ExportedName[],
  root = ROOT,
): string {
  const values = names.filter((n) => n.isValue);
  const types = names.filter((n) => !n.isValue);
  const block = (list: readonly ExportedName[]) =>
    list.length === 0 ? ['(none)'] : ['```text', list.map((n) => n.text).join('\n\n'), '```'];
  const text = [
    `# API report: \`${entry.specifier}\``,
    '',
    `<!-- Generated by scripts/api-report.ts from ${entry.source}: do not edit. -->`,
    '<!-- Update with `npm run api:update`; test/api-report.test.ts fails while it is stale. -->',
    '',
    `Runtime values: ${values.length}. Types: ${types.length}.`,
    '',
    '## Runtime values',
    '',
    ...block(values),
    '',
    '## Types',
    '',
    ...block(types),
    '',
  ].join('\n');
  return withoutMachinePaths(text, root);
}

/** Every entry's report, keyed by its file (relative to the root). */
export function buildReports(root = ROOT): Map<string, string> {
  const entries = packageEntries(root);
  const exports = collectExports(entries, root);
  const reports = new Map<string, string>();
  for (const entry of entries) {
    reports.set(entry.report, renderReport(entry, exports.get(entry) ?? [], root));
  }
  return reports;
}

/**
 * The checker names types of other modules by absolute path (`import("/home/me/x/node_modules/
 * xstate/dist/xstate.cjs")`): a report must read the same in every checkout, so a package's path
 * becomes its name (`import("xstate")`) and a path of the project becomes relative to its root.
 */
export function withoutMachinePaths(text: string, root: string): string {
  const project = root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text
    .replace(/import\("[^"]*\/node_modules\/((?:@[^/"]+\/)?[^/"]+)[^"]*"\)/g, 'import("$1")')
    .replace(new RegExp(`import\\("${project}/([^"]+)"\\)`, 'g'), 'import("./$1")');
}

function main(args: readonly string[]): number {
  const write = args.includes('--write');
  let stale = 0;
  for (const [file, text] of buildReports()) {
    const path = join(ROOT, file);
    let current: string | undefined;
    try {
      current = readFileSync(path, 'utf8');
    } catch {
      current = undefined;
    }
    if (current === text) continue;
    if (write) {
      writeFileSync(path, text);
      console.log(`updated ${file}`);
    } else {
      console.error(`stale: ${file}`);
      stale++;
    }
  }
  if (stale > 0) console.error('The API reports are stale: run `npm run api:update` and commit.');
  return stale > 0 ? 1 : 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
