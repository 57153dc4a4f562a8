using MoePrune.IO;
using Xunit;

namespace MoePrune.Tests.IO;

/// <summary>Malformed headers, built byte by byte: each must fail with one line naming the file and the problem.</summary>
public class SafetensorsHeaderTests
{
    static MoePruneException OpenFails(string path)
    {
        var e = Assert.Throws<MoePruneException>(() => SafetensorsFile.Open(path));
        Assert.StartsWith(path + ":", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }

    const string OneF32 = """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""";

    [Fact]
    public void FileTooShort()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir["short.safetensors"], [1, 2, 3]);
        Assert.Contains("too short", OpenFails(dir["short.safetensors"]).Message);
    }

    [Fact]
    public void MissingFile()
    {
        using var dir = new TempDir();
        Assert.Contains("file not found", OpenFails(dir["nope.safetensors"]).Message);
    }

    [Fact]
    public void HeaderLengthOverTheCap()
    {
        using var dir = new TempDir();
        string path = RawSafetensors.Write(dir, "x.safetensors", OneF32, new byte[8], declaredLength: 200_000_000);
        Assert.Contains("exceeds the 100000000-byte limit", OpenFails(path).Message);
    }

    [Fact]
    public void HeaderLengthBeyondTheFile()
    {
        using var dir = new TempDir();
        string path = RawSafetensors.Write(dir, "x.safetensors", OneF32, new byte[8], declaredLength: 5000);
        long size = new FileInfo(path).Length;
        Assert.Contains($"header length 5000 exceeds the file size {size}", OpenFails(path).Message);
    }

    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}""", "not valid JSON")]
    [InlineData("""[1,2]""", "not a JSON object")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2]}}""", "no \"data_offsets\" array")]
    [InlineData("""{"a":{"shape":[2],"data_offsets":[0,8]}}""", "no string \"dtype\"")]
    [InlineData("""{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}""", "non-negative integers")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}""", "non-negative integers")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}""", "end before they begin")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,9]}}""", "must have 2 entries")]
    [InlineData("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", "byte length 8 does not match shape [3] x F32 (12 bytes)")]
    [InlineData("""{"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}""", "unknown dtype \"Q4\"")]
    [InlineData("""{"a":{"dtype":"f32","shape":[2],"data_offsets":[0,8]}}""", "unknown dtype \"f32\"")]
    [InlineData("""{"a":{"dtype":"F8_E5M2","shape":[8],"data_offsets":[0,8]}}""", "F8_E5M2 is not supported (of the FP8 formats only block-scaled F8_E4M3 is)")]
    [InlineData("""{"a":{"dtype":"F8_E8M0","shape":[8],"data_offsets":[0,8]}}""", "F8_E8M0 is not supported")]
    [InlineData("""{"a":{"dtype":"U32","shape":[2],"data_offsets":[0,8]}}""", "dtype U32 is not supported (supported: F32, F16, BF16")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", "duplicate tensor name \"a\"")]
    [InlineData("""{"__metadata__":{"format":1},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", "__metadata__ value \"format\" is not a string")]
    [InlineData("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", "ends at data byte 16 but the data section has only 8 bytes")]
    [InlineData("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}""", "overlap")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I16","shape":[2],"data_offsets":[4,8]}}""", "overlap")]
    [InlineData("""{"a":{"dtype":"F32","shape":[9223372036854775807,4],"data_offsets":[0,8]}}""", "too large")]
    public void RejectsBadHeader(string header, string expectedMessagePart)
    {
        using var dir = new TempDir();
        string path = RawSafetensors.Write(dir, "bad.safetensors", header, new byte[8]);
        Assert.Contains(expectedMessagePart, OpenFails(path).Message);
    }

    [Fact]
    public void AcceptsHolesUnsortedHeaderEmptyTensorsAndTrailingPadding()
    {
        using var dir = new TempDir();
        // b is listed first but stored second; a 4-byte hole after a; e is empty and shares an offset.
        const string header = """
            {"b":{"dtype":"I16","shape":[2],"data_offsets":[8,12]},
             "e":{"dtype":"F32","shape":[0,5],"data_offsets":[8,8]},
             "a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}
            """;
        byte[] data = [1, 2, 3, 4, 0xEE, 0xEE, 0xEE, 0xEE, 0x01, 0x80, 0xFF, 0x7F];
        string path = RawSafetensors.Write(dir, "ok.safetensors", header + "   ", data);
        using var st = SafetensorsFile.Open(path);
        Assert.Equal(["a", "e", "b"], st.Tensors.Keys);                       // data order (begin, then end)
        using var b = st.Read("b");
        Assert.Equal([(short)-32767, (short)32767], b.data<short>().ToArray());
        using var e = st.Read("e");
        Assert.Equal([0L, 5L], e.shape);
        Assert.Throws<MoePruneException>(() => st.Read("missing"));
    }

    [Fact]
    public void NullMetadataIsEmpty()
    {
        using var dir = new TempDir();
        string path = RawSafetensors.Write(dir, "m.safetensors", """{"__metadata__":null,"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}""", [5]);
        using var st = SafetensorsFile.Open(path);
        Assert.Empty(st.Metadata);
    }

    [Fact]
    public void DtypeTableAgreesWithTorch()
    {
        using var dir = new TempDir();                                         // loads TorchSharp
        foreach (var d in Enum.GetValues<SafeDtype>().Where(d => d != SafeDtype.U64))   // U64: arrays only
        {
            using var t = TorchSharp.torch.zeros(1, dtype: SafeDtypes.ToTorch(d));
            Assert.Equal(t.ElementSize, SafeDtypes.SizeOf(d));
            if (d != SafeDtype.F8_E4M3) Assert.Equal(d, SafeDtypes.FromTorch(t.dtype));  // FP8 codes live in uint8 tensors
            Assert.Equal(d, SafeDtypes.Parse(d.ToString(), "f"));
        }
    }

    [Fact]
    public void Fp8CodesAreBytesThatNeverConvertNumerically()
    {
        using var dir = new TempDir();
        string path = RawSafetensors.Write(dir, "f8.safetensors", """{"w":{"dtype":"F8_E4M3","shape":[2,4],"data_offsets":[0,8]}}""",
                                           [0x38, 0xB8, 0x00, 0x7E, 0x01, 0x08, 0x40, 0xC0]);
        using var st = SafetensorsFile.Open(path);
        Assert.Equal(SafeDtype.F8_E4M3, st.Entry("w").Dtype);
        using var codes = st.Read("w");
        Assert.Equal(TorchSharp.torch.ScalarType.Byte, codes.dtype);
        Assert.Equal(new byte[] { 0x38, 0xB8, 0x00, 0x7E, 0x01, 0x08, 0x40, 0xC0 }, codes.data<byte>().ToArray());
        using var floats = TorchSharp.torch.zeros(2, 4);
        Assert.Contains("FP8 codes", Assert.Throws<MoePruneException>(() => st.ReadInto("w", floats)).Message);
    }

    [Fact]
    public void U64IsAnArrayOnlyDtype()
    {
        Assert.Equal(8, SafeDtypes.SizeOf(SafeDtype.U64));
        Assert.Equal(SafeDtype.U64, SafeDtypes.Parse("U64", "f"));
        Assert.Equal(SafeDtype.U64, SafeDtypes.FromElementType(typeof(ulong)));
        Assert.Contains("ReadArray", Assert.Throws<MoePruneException>(() => SafeDtypes.ToTorch(SafeDtype.U64)).Message);
    }
}
