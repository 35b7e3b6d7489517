// Patches the C++ source of @tensorflow/tfjs-node's binding so that an op attribute of type string
// whose value is a JS array of strings is set as a list(string) attribute (TFE_OpSetAttrStringList).
// The stock binding takes lists only for int, float and bool, which rules out ops such as
// `_FusedMatMul` (its `fused_ops` attribute). Run by setup-native.sh before it builds the binding.
//
//   node patch-tfjs-binding.mjs apply  <package dir>   patch (idempotent; a backup .orig is kept)
//   node patch-tfjs-binding.mjs revert <package dir>   restore the original source
//   node patch-tfjs-binding.mjs status <package dir>   print 'patched', 'unpatched' or 'unpatchable'
//   node patch-tfjs-binding.mjs marker                 print the marker a patched build contains
//
// Exit status: 0 on success, 3 when the source does not contain the code the patch expects (another
// tfjs-node version): the caller then builds the binding unpatched. The marker below ends up in the
// compiled binding (in an error message), so a built binding can be told apart with grep.
import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const MARKER = 'maskedssl-strlist-v1';

const ORIGINAL = `    case TF_ATTR_STRING: {
      // NOTE: String attribute values do not have to be utf8 encoded strings
      // (could be arbitrary byte sequences).
      std::string str_value;`;

const PATCHED = `    case TF_ATTR_STRING: {
      // Patched by maskedssl (packages/core/scripts/patch-tfjs-binding.mjs):
      // an array of strings sets a list(string) attribute.
      if (IsArray(env, nstatus, &js_value)) {
        uint32_t length;
        nstatus = napi_get_array_length(env, js_value, &length);
        ENSURE_NAPI_OK(env, nstatus);
        std::vector<std::string> strings(length);
        std::vector<const void *> values(length);
        std::vector<size_t> lengths(length);
        for (uint32_t i = 0; i < length; ++i) {
          napi_value element;
          nstatus = napi_get_element(env, js_value, i, &element);
          ENSURE_NAPI_OK(env, nstatus);
          napi_valuetype element_type;
          nstatus = napi_typeof(env, element, &element_type);
          ENSURE_NAPI_OK(env, nstatus);
          if (element_type != napi_string) {
            NAPI_THROW_ERROR(env,
                             "list(string) attribute %s: element %u is not a "
                             "string (${MARKER})",
                             attr_name, i);
            return;
          }
          nstatus = GetStringParam(env, element, strings[i]);
          ENSURE_NAPI_OK(env, nstatus);
          values[i] = strings[i].data();
          lengths[i] = strings[i].size();
        }
        TFE_OpSetAttrStringList(tfe_op, attr_name, values.data(),
                                lengths.data(), static_cast<int>(length));
        break;
      }
      // NOTE: String attribute values do not have to be utf8 encoded strings
      // (could be arbitrary byte sequences).
      std::string str_value;`;

const INCLUDE_AFTER = '#include <string>\n';
const INCLUDE = '#include <vector>\n';

function state(source) {
  if (source.includes(MARKER)) return 'patched';
  return source.includes(ORIGINAL) && source.includes(INCLUDE_AFTER) ? 'unpatched' : 'unpatchable';
}

function main() {
  const [command, pkgDir] = process.argv.slice(2);
  if (command === 'marker') {
    console.log(MARKER);
    return 0;
  }
  if (!['apply', 'revert', 'status'].includes(command ?? '') || !pkgDir) {
    console.error('usage: node patch-tfjs-binding.mjs apply|revert|status <tfjs-node package dir> | marker');
    return 1;
  }
  const file = join(pkgDir, 'binding', 'tfjs_backend.cc');
  const backup = `${file}.orig`;
  if (!existsSync(file)) {
    console.log(`unpatchable: ${file} does not exist`);
    return 3;
  }
  const source = readFileSync(file, 'utf8');
  const now = state(source);
  if (command === 'status') {
    console.log(now);
    return 0;
  }
  if (command === 'revert') {
    if (now !== 'patched') {
      console.log('not patched');
      return 0;
    }
    if (!existsSync(backup)) {
      console.log(`patched, but there is no ${backup} to revert to`);
      return 1;
    }
    // Written (not renamed), so the file is newer than any object built from the patched source.
    writeFileSync(file, readFileSync(backup));
    unlinkSync(backup);
    console.log('reverted');
    return 0;
  }
  if (now === 'patched') {
    console.log('already patched');
    return 0;
  }
  if (now === 'unpatchable') {
    console.log(`unpatchable: ${file} does not contain the TF_ATTR_STRING case this patch expects (another tfjs-node version?)`);
    return 3;
  }
  writeFileSync(backup, source);
  writeFileSync(file, source.replace(INCLUDE_AFTER, INCLUDE_AFTER + INCLUDE).replace(ORIGINAL, PATCHED));
  console.log('patched');
  return 0;
}

process.exitCode = main();
