// An MSBuild task (compiled inline by RoslynCodeTaskFactory from Directory.Build.targets).
//
// libLibTorchSharp.so in TorchSharp 0.107.0 was linked with GCC 13 and declares a version need for
// GLIBCXX_3.4.32. The only symbol under it (_ZSt21ios_base_library_initv) is a link-time marker that no
// relocation refers to, so the library works against an older libstdc++ once that need is marked WEAK.
// This task does exactly that, on the build output's copy, only where the system libstdc++ lacks the
// version, and idempotently (a second run finds the flag set and writes nothing).
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class LnsWeakenGlibcxxNeed : Task
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    [Required] public ITaskItem[] Libraries { get; set; } = Array.Empty<ITaskItem>();
    [Required] public string VersionName { get; set; } = "";

    public override bool Execute()
    {
        string? provider = FindSystemLibStdCxxWithVersion(VersionName, out var searched);
        if (provider != null)
        {
            Log.LogMessage(MessageImportance.Low, $"LnsDsl: {provider} provides {VersionName}; TorchSharp natives left as they are.");
            return true;
        }

        foreach (var item in Libraries)
        {
            string path = item.GetMetadata("FullPath");
            try
            {
                string result = Weaken(path, VersionName);
                Log.LogMessage(MessageImportance.Normal, $"LnsDsl: {path}: {result}");
            }
            catch (Exception e) when (e is IOException || e is InvalidDataException || e is UnauthorizedAccessException)
            {
                Log.LogError($"LnsDsl: could not mark {VersionName} weak in {path}: {e.Message}. " +
                             "TorchSharp will fail to load on this system; install a libstdc++ providing " + VersionName +
                             " or report this error.");
            }
        }
        return !Log.HasLoggedErrors;
    }

    /// <summary>The first system libstdc++ that defines the version, or null (also when none is found).</summary>
    private static string? FindSystemLibStdCxxWithVersion(string version, out List<string> searched)
    {
        searched = new List<string>();
        string[] dirs =
        {
            "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
            "/lib/aarch64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/lib",
        };
        byte[] needle = Encoding.ASCII.GetBytes(version + "\0");
        foreach (var dir in dirs)
        {
            string candidate = Path.Combine(dir, "libstdc++.so.6");
            if (!File.Exists(candidate)) continue;
            searched.Add(candidate);
            if (IndexOf(File.ReadAllBytes(candidate), needle) >= 0) return candidate;
        }
        return null;
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && haystack[i + j] == needle[j]) j++;
            if (j == needle.Length) return i;
        }
        return -1;
    }

    /// <summary>Sets VER_FLG_WEAK on the Elf64_Vernaux entry named <paramref name="version"/>.</summary>
    internal static string Weaken(string path, string version)
    {
        byte[] elf = File.ReadAllBytes(path);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1) throw new InvalidDataException("not a little-endian ELF64 file");

        ulong shoff = BitConverter.ToUInt64(elf, 0x28);
        ushort shentsize = BitConverter.ToUInt16(elf, 0x3A);
        ushort shnum = BitConverter.ToUInt16(elf, 0x3C);
        for (int s = 0; s < shnum; s++)
        {
            int sh = checked((int)shoff + s * shentsize);
            if (BitConverter.ToUInt32(elf, sh + 4) != ShtGnuVerneed) continue;
            int offset = checked((int)BitConverter.ToUInt64(elf, sh + 0x18));
            uint link = BitConverter.ToUInt32(elf, sh + 0x28);
            int strtab = checked((int)BitConverter.ToUInt64(elf, checked((int)shoff + (int)link * shentsize) + 0x18));

            // Elf64_Verneed { u16 vn_version; u16 vn_cnt; u32 vn_file; u32 vn_aux; u32 vn_next; }
            int vn = offset;
            while (true)
            {
                ushort count = BitConverter.ToUInt16(elf, vn + 2);
                int aux = vn + (int)BitConverter.ToUInt32(elf, vn + 8);
                for (int a = 0; a < count; a++)
                {
                    // Elf64_Vernaux { u32 vna_hash; u16 vna_flags; u16 vna_other; u32 vna_name; u32 vna_next; }
                    ushort flags = BitConverter.ToUInt16(elf, aux + 4);
                    uint name = BitConverter.ToUInt32(elf, aux + 8);
                    if (ReadCString(elf, strtab + (int)name) == version)
                    {
                        if ((flags & VerFlgWeak) != 0) return $"{version} already weak";
                        ushort weak = (ushort)(flags | VerFlgWeak);
                        string temp = path + ".lnstmp";
                        elf[aux + 4] = (byte)(weak & 0xff);
                        elf[aux + 5] = (byte)(weak >> 8);
                        File.WriteAllBytes(temp, elf);
                        File.Replace(temp, path, null); // a rename: readers see the old or the new file, never half

                        return $"marked {version} weak";
                    }
                    aux += (int)BitConverter.ToUInt32(elf, aux + 12);
                }
                uint next = BitConverter.ToUInt32(elf, vn + 12);
                if (next == 0) break;
                vn += (int)next;
            }
            return $"no need for {version}; nothing to do";
        }
        return "no version-need section; nothing to do";
    }

    private static string ReadCString(byte[] data, int start)
    {
        int end = start;
        while (end < data.Length && data[end] != 0) end++;
        return Encoding.ASCII.GetString(data, start, end - start);
    }
}
