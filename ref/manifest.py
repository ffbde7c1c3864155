"""Where every record's code lives upstream: repository, commit, path, and the sha256 of the
source as extracted (the whole `.py`, or the code at the top of a `.txt` log).

`python -m ref` prints it. Goldens and live parity check the source against `sha256`.
"""

from __future__ import annotations

from dataclasses import dataclass

MODDED = "KellerJordan/modded-nanogpt"
LLMC = "karpathy/llm.c"
MODDED_HEAD = "f411b3d346aa52d3504324ca93c230fd84c6c07f"
LLMC_HEAD = "f1e2ace651495b74ae22d45d1723443fd00ecd3a"


@dataclass(frozen=True)
class Entry:
    record: str
    repo: str
    commit: str
    path: str
    sha256: str
    family: str | None  # which driver in ref.drivers runs this model/optimizer; None: not in the zoo yet
    note: str = ""

    @property
    def local_name(self) -> str:
        """The file name `python -m ref.fetch` saves this record under."""
        return f"record_{self.record}{'.txt' if self.path.endswith('.txt') else '.py'}"


_ENTRIES = (
    Entry("1", LLMC, LLMC_HEAD, "train_gpt2.py",
          "757d0cea0d48cbc4c7d7d70371f955d49cdf3a7cfb4c87701a720c2fe0905c34", "llmc"),
    Entry("2", MODDED, "b6b0a0d36e6f1758a8d14d5fcd5f15ca5d19b891", "train_gpt2.py",
          "999773939d831eabafd898fe81c16c0eda577b703942237ff166847f2e027070", "train_gpt2_adamw"),
    Entry("3", MODDED, "cd06e2009cd2f88ef63b2113aa075beac09e9913", "train_gpt2.py",
          "02b9a5723e63af85ccb41fae9925fd2e43b823837ff882e058607bf1a8a3b569", "train_gpt2_orthogonal_nesterov"),
    Entry("4", MODDED, MODDED_HEAD,
          "records/track_1_short/2024-10-10_Muon/eb5659d0-fb6a-49e5-a311-f1f89412f726.txt",
          "ef625338082b783a1d8fdb716bd5c2d1d21167781c5d497a2bc6aa94e2aa53df", "toplevel"),
    # Records beyond the zoo so far: their code is known (data loaders are checked against it);
    # their model/optimizer drivers come with their stages. History.md §1.2 names the files.
    Entry('5', MODDED, MODDED_HEAD, 'records/track_1_short/2024-10-14_ModernArch/dabaaddd-237c-4ec9-939d-6608a9ed5e27.txt',
          '7199ba9f956c20aceffc7112a0e430db68964fa19d4fa427f743fc3d5f33bd4b', "toplevel"),
    Entry('6', MODDED, MODDED_HEAD, 'records/track_1_short/2024-10-17_DistributedMuon/22d24867-eb5a-4fcc-ae2c-263d0277dfd1.txt',
          '002d905a83bbd3c366c239f1dd53230e64b26d0813bed24a028f923781d56833', "toplevel"),
    Entry('7', MODDED, MODDED_HEAD, 'records/track_1_short/2024-10-18_PyTorch25/d4bfb25f-688d-4da5-8743-33926fad4842.txt',
          '002d905a83bbd3c366c239f1dd53230e64b26d0813bed24a028f923781d56833', "toplevel"),
    Entry('8', MODDED, MODDED_HEAD, 'records/track_1_short/2024-11-03_UntieEmbed/d6b50d71-f419-4d26-bb39-a60d55ae7a04.txt',
          '9b0c439e37548b00b6c0a62b5960dc9ed11084a20f4969b2e39a8f1b6b5c345e', "toplevel"),
    Entry('9', MODDED, MODDED_HEAD, 'records/track_1_short/2024-11-06_ShortcutsTweaks/dd7304a6-cc43-4d5e-adb8-c070111464a1.txt',
          '8e9dd34a862de8358c423bbe94f471baba1dfeab63d42e92cb47949899cf4ab8', "toplevel"),
    Entry('10', MODDED, MODDED_HEAD, 'records/track_1_short/2024-11-08_CastBf16/a833bed8-2fa8-4cfe-af05-58c1cc48bc30.txt',
          '2e2c4a94bd7f30dcd41bffe6b11e5c9c5c225c9ae16f729c92ef2d1bc478fb41', "toplevel"),
    Entry('11', MODDED, MODDED_HEAD, 'records/track_1_short/2024-11-10_UNetDoubleLr/c87bb826-797b-4f37-98c7-d3a5dad2de74.txt',
          '285af3ca7fdcfa456335396af1262b2f1942cde858ec72a2ecf1c0f6484ccf9d', "toplevel"),
    Entry('12', MODDED, MODDED_HEAD, 'records/track_1_short/2024-11-19_FlexAttention/8384493d-dba9-4991-b16b-8696953f5e6d.txt',
          '4a944a94c25707df692d485f9e752327cb656adc2eb749067dc1e47b0c6090d1', "flex"),
    Entry('13', MODDED, MODDED_HEAD, 'records/track_1_short/2024-11-24_WindowWarmup/cf9e4571-c5fc-4323-abf3-a98d862ec6c8.txt',
          'ec8975873c93b57a645d9a0c61f2983b065817ffbc9b459287a27d3c4bc6b54d', "flex"),
    Entry('14', MODDED, MODDED_HEAD, 'records/track_1_short/2024-12-04_ValueEmbed/00008ea0-21dd-442a-82ee-d12799249d0f.txt',
          '189e5c3bca9dd296225a81c0310d96551acbd4bd902fb34dee334e1f3d58c0db', "flex"),
    Entry('15', MODDED, MODDED_HEAD, 'records/track_1_short/2024-12-08_UNetValueEmbedsTweaks/0069607b-aa90-49fd-9766-4368bcd168c4.txt',
          '91c860589cddf8ad0cc4b20fbda3b829d70aeccf5a178a8544becef8041ed622', "flex"),
    Entry('16', MODDED, MODDED_HEAD, 'records/track_1_short/2024-12-10_MFUTweaks/04df8c70-2462-4b6c-9e49-c7589b321a81.txt',
          '0d0b6838eb3bb4657d93579c8a3a15c1ef9b9c6bf02ea40345f9842aff7b2312', "flex"),
    Entry('17', MODDED, MODDED_HEAD, 'records/track_1_short/2024-12-17_SparsifyEmbeds/165384d5-5a41-4fba-9b79-8ecc372616ea.txt',
          '8a2b00c51b63eb23cc41d903b91433bf44250f203cf2538648c7558cbc11a15e', "flex"),
    Entry('18', MODDED, MODDED_HEAD, 'records/track_1_short/2025-01-04_SoftCap/31d6c427-f1f7-4d8a-91be-a67b5dcd13fd.txt',
          'f776619fa1de0d9f3d0514a7e432309f23a1da9fb49fd3355c9bbb48dd2916f3', "flex"),
    Entry('19', MODDED, MODDED_HEAD, 'records/track_1_short/2025-01-13_Fp8LmHead/c51969c2-d04c-40a7-bcea-c092c3c2d11a.txt',
          '4558bb11b1c52d186187df6ae63f9b9fcde6e6253168f7d2c8a2c5783a9d0714', "flex"),
    Entry('20', MODDED, MODDED_HEAD, 'records/track_1_short/2025-01-16_Sub3Min/1d3bd93b-a69e-4118-aeb8-8184239d7566.txt',
          '3b89f4f9da5c71a658c95dde6342849832bb783f8ed8d6e6ff608c3475364ca7', "flex"),
    Entry('21', MODDED, MODDED_HEAD, 'records/track_1_short/2025-01-26_BatchSize/c44090cc-1b99-4c95-8624-38fb4b5834f9.txt',
          '56835fcc033c9d9ebc14957d8151026f702463b54290ef3a73dccf25a39f7ed4', "flex"),
    Entry('21b', MODDED, MODDED_HEAD, 'records/track_1_short/2025-02-01_RuleTweak/eff63a8c-2f7e-4fc5-97ce-7f600dae0bc7.txt',
          '89c7b8b38a382c195dd2f2ef60c0f7d5a46da8a7042e465b411ac00e1f6656f8', "flex"),
    Entry('21c', MODDED, MODDED_HEAD, 'records/track_1_short/2025-05-24_StableTorch/89d9f224-3b01-4581-966e-358d692335e0.txt',
          'c4f062eadaa9d824f4ac3647b3c8477dea5eaf71bf06aa3506461312b2b14017', "flex"),
    Entry('22', MODDED, MODDED_HEAD, 'records/track_1_short/2025-05-24_FasterReduce/23f40b75-06fb-4c3f-87a8-743524769a35.txt',
          'ed1fdad79409737bdf1c108c33f1ebf6f96b855de08ecefff7651269b3dfc03b', "flex"),
    Entry('23', MODDED, MODDED_HEAD, 'records/track_1_short/2025-05-25_EvenFasterReduce/6ae86d05-5cb2-4e40-a512-63246fd08e45.txt',
          '7a75d9077b08db5e9776c2ce3dabc618559eba9c1e039d01776f1cc4308e932c', "flex"),
    Entry('24', MODDED, MODDED_HEAD, 'records/track_1_short/2025-05-30_noallreduce/8054c239-3a18-499e-b0c8-dbd27cb4b3ab.txt',
          '4e4d26787c7fa26392676eaf6e88a01b570210cf83e848cf0e35e5dedc931d38', "flex"),
    Entry('25', MODDED, MODDED_HEAD, 'records/track_1_short/2025-07-13_UpgradeTorch190/692f80e0-5e64-4819-97d4-0dc83b7106b9.txt',
          '673d3285ae24e4bfaadf2695a4219f63deb8113eb152b224ad120486c0983a2c', "flex"),
    Entry('26', MODDED, MODDED_HEAD, 'records/track_1_short/2025-07-12_BosAlign/c1fd8a38-bb9f-45c4-8af0-d37f70c993f3.txt',
          'bff1dcc22cadd870f873574018a4cca4bd0d878fc222940d329887662d1b1697', "flex"),
    Entry('27', MODDED, MODDED_HEAD, 'records/track_1_short/2025-07-18_TritonMuon/record.txt',
          '7b0e4db2a2c66568a33d0eead88d9c8eadf50e4d21db35a156691b897d838a24', "flex"),
    Entry('28', MODDED, MODDED_HEAD, 'records/track_1_short/2025-08-23_SparseAttnGate/020630eb-2191-4ba2-9ee4-4cdc94316943.txt',
          'accbe0908cfc1388a18d5763bfa1c0f22994afa064f4c8e2235ad059df5b58dc', "flex"),
    Entry('29', MODDED, MODDED_HEAD, 'records/track_1_short/2025-09-03_FA3/44fc1276-0510-4961-92c0-730c65e5feba.txt',
          '1e951856ee3c2010685b3a914b3b0dc97ce115c9b5b47c8e9f42f33c711cb9d3', "flex"),
    Entry('30', MODDED, MODDED_HEAD, 'records/track_1_short/2025-09-05_SkipMLPBlocks/07e7ae76-b7d0-4481-b149-01e7d81b5ad4.txt',
          'dcb0035fad0d38e2765b664f910c9e2d5ac09bcd13f1f42f6c4cc82c57f4100b', "flex"),
    Entry('31', MODDED, MODDED_HEAD, 'records/track_1_short/2025-09-10_Yarn/0ecdb695-510b-4c3b-b030-09861a162ce8.txt',
          '5d3f98e93735d2658784261b4645cd946da487ee07f158b8996e827ec71876ef', "flex"),
    Entry('32', MODDED, MODDED_HEAD, 'records/track_1_short/2025-09-11_VectSigmoidBFloat16/0d0d9882-c34f-4d82-b961-a17d5659c988.txt',
          '0c77d18a583c9bda11ed3c1014ddb527635c7fc56259b3f78de8db629cec6c7a', "flex"),
    Entry('33', MODDED, MODDED_HEAD, 'records/track_1_short/2025-09-15_AsyncDataLoadAttnFinalWindow/25db37c7-2bab-4ef4-ae63-d593590ef823.txt',
          'bb38060cc03f70b9304a5545164aa123dab5000c6fe4d2781ed08b87cadfce96', "flex"),
    Entry('34', MODDED, MODDED_HEAD, 'records/track_1_short/2025-09-18_Smear/18a1e5c7-947e-479d-bc3a-a57a61a98fc9.txt',
          'ad23f7ecdabdd7802d4c5e21332bbfd4419bdea33d888a130b906be3760f2e12', "flex"),
    Entry('35', MODDED, MODDED_HEAD, 'records/track_1_short/2025-09-21_DropAttn/01fc4a96-f2a0-47a1-8a6a-c7d10bac99fe.txt',
          '8d02e44f3dbd7a384a238843bfe57adbbf472bfcd336001b5c4a25ff0138a252', "flex"),
    Entry('36', MODDED, MODDED_HEAD, 'records/track_1_short/2025-09-23_MuonCustomSizing/b067b4ac-72a6-4436-a6f8-ea51c1efeef3.txt',
          'fb8c57cf864707666de3d56907be089c49ae276747a95bc1649174704ea71b10', "flex"),
    Entry('37', MODDED, MODDED_HEAD, 'records/track_1_short/2025-09-27_BF16CE/08c0770f-17fc-44cd-971d-734a7a28a3e3.txt',
          'e9d550835ba121c85597e909691465935ce8d44a82104a865b13063171bce73b', "flex"),
    Entry('38', MODDED, MODDED_HEAD, 'records/track_1_short/2025-09-29_PolarExpress/0e3f0af5-ad08-47a6-813d-0c709b50d422.txt',
          '5ef156c0cc510efec4fb2ebf5ca8c6d1b7139bebaccddf440efd31caef857a95', "flex"),
    Entry('39', MODDED, MODDED_HEAD, 'records/track_1_short/2025-09-30_CustomBatching/40b101b1-77ea-45ea-a089-1d3a647daa22.txt',
          '03e48740d71dd14170d8097e19deef9954ee92541507d8dced7e345747f409f8', "flex"),
    Entry('40', MODDED, MODDED_HEAD, 'records/track_1_short/2025-10-04_Backout/514e7581-fbd4-4338-a3e4-e556f9c958ce.txt',
          'eb98b3ca53fc490181c8f34b04b14044f171924083e530b24501c70e16f9dd88', "flex"),
    Entry('41', MODDED, MODDED_HEAD, 'records/track_1_short/2025-10-24_NorMuon/088a77ee-9b67-475a-bbb9-3e92e4698799.txt',
          '95d301c6e3ca89db5a984fbd5a5a034eacb89dfef7d6a5a2d0f67f4c9bf02864', "flex"),
    Entry('42', MODDED, MODDED_HEAD, 'records/track_1_short/2025-10-27_FixMuonLR/14afd380-d3d9-48d7-ad23-4c13cb96754b.txt',
          '581e3614dbe5e18da0f876cd48bd9f227c491dd78964b2855eec6aa84367115a', "flex"),
    Entry('43', MODDED, MODDED_HEAD, 'records/track_1_short/2025-11-10_CautiousWD/1aac0132-a891-4ed9-b358-0fd2abd1b019.txt',
          '5a0582b1ce51a13f605c0976cb7bfc67285e0d82e3ac265d184947d4fe838b73', "flex"),
    Entry('44', MODDED, MODDED_HEAD, 'records/track_1_short/2025-10-31_AdamSyncGradientHook/0c17cdfd-772c-4906-8d11-141b370599a0.txt',
          '04d0d24b9e3f3e9c90a1e244467d0c9d1facbcc142d2ae64ac1234cf27dd1732', "flex"),
    Entry('45', MODDED, MODDED_HEAD, 'records/track_1_short/2025-11-18_RefineSkip/00f4e1e6-0044-4a08-b88a-3b7ec0624081.txt',
          '12d45a8994def8c6de24fe68eb152035c892c549a8874ade4b63adb6b18fcf13', "flex"),
    Entry('46', MODDED, MODDED_HEAD, 'records/track_1_short/2025-11-29_BatchSizeSchedule/10e8f7c6-7175-4467-bdb0-a5de25d771a6.txt',
          'fafb96a23780614912a11a74323e4f0504c542c49a30f3234a38a80eee14d686', "flex"),
    Entry('47', MODDED, MODDED_HEAD, 'records/track_1_short/2025-12-10_SALambdaOnWeights/15ef5eaf-56e1-40e1-9ddf-af010027c9dd.txt',
          'fb21b7e099c912a7e42581d710a40dad8b9c3716de7956d5a37bd1e3873b8f68', "flex"),
    Entry('48', MODDED, MODDED_HEAD, 'records/track_1_short/2025-12-11_NorMuonOptimsAndFixes/NorMuon Fixes and PreMul-O - 06113.txt',
          'b45b72b73970f439cae9163fdd1762e11c6a4f1307c7697d75103d8c8d0a1464', "flex"),
    Entry('49', MODDED, MODDED_HEAD, 'records/track_1_short/2025-12-14_PartialKeyOffset/150d40bf-c20b-4568-aac9-26eb919e25fd.txt',
          '8ee1730e3bb2966eaef2a737eb34fed37975c044e99c051ab8c5c09d99d6b495', "flex"),
    Entry('50', MODDED, MODDED_HEAD, 'records/track_1_short/2025-12-18_CautiousWDAdam/1981d492-bc65-4ba9-a0fa-2b30fc5c3eba.txt',
          'e9b5a6dda5228b32e889d7fe17f2170abac2b0c7fabe9d6a0245338c7cee50d3', "flex"),
    Entry('51', MODDED, MODDED_HEAD, 'records/track_1_short/2025-12-19_RetieLMHead/0828d309-ecfe-4442-9ee9-68fed3a4b599.txt',
          '03da63b7f78487311e07bfc510ebdedecb952e1ea684dc9ed7cf3a686fdedb87', "flex"),
    Entry('52', MODDED, MODDED_HEAD, 'records/track_1_short/2025-12-21_SmoothedScalars/12-21-Smoothed-Scalars/0bc6e909-8ee8-4ae3-ac62-0070e151a808.txt',
          '858855f4f636f80fe39ffafbc6efee75d4f1cefff10016192cdd30ffefb8d211', "flex"),
    Entry('53', MODDED, MODDED_HEAD, 'records/track_1_short/2025-12-22_MultiTokenPrediction/17aaf854-f338-4d0d-9767-a5db30fd7980.txt',
          'd4497d80c4ff417bc01571e3b94ab8be90357cfb94bd4c0b449f657cda7db3e7', "flex"),
    Entry('54', MODDED, MODDED_HEAD, 'records/track_1_short/2025-12-26_LogitRescale/03e41c2d-2951-4546-a599-24cd723247fc.txt',
          '96bf30c70dc3381043ff39f0e195e79db5b1d2bf9db1bb47a2da25ebb79a951b', "flex"),
    Entry('55', MODDED, MODDED_HEAD, 'records/track_1_short/2025-12-29_VeSkipGates/2851d7dc-d6a5-4e74-8623-57031425db16.txt',
          'e1b0eaec5bc5f0d0b24d8b42e3e124cf94010335892a2f496a055927770485c7', "flex"),
    Entry('56', MODDED, MODDED_HEAD, 'records/track_1_short/2025-12-31_GatesToCompiledAdam/12-31-gates-to-adam-20stps/219a5f2f-151e-4c56-ab91-3735ae4610b8.txt',
          '77a97113be372ec363b9ed1837d75a879822ea395f82fdc83fba29a6314722c6', "flex"),
    Entry('57', MODDED, MODDED_HEAD, 'records/track_1_short/2026-01-04_MixedPrecisionInterweavedOptimizer/41f606b6-1b9c-46a3-b46e-2beff1521d18.txt',
          '7d2cfb2796b74d3a924602d946b0dd0ff604e8dc182dfe4773027b331bc71d7c', "flex"),
    Entry('58', MODDED, MODDED_HEAD, 'records/track_1_short/2026-01-07_PairedHeadAttention/2a5d5cde-db5f-4aab-a4a8-cc8e183ea671.txt',
          '06f108439607ed26202ab2845a86e30f91586f524fd77fc3c4419efc1af5bb48', "flex"),
    Entry('59', MODDED, MODDED_HEAD, 'records/track_1_short/2026-01-10_FusedLinearReLUSquare/3c47e63b-075e-4b5b-9c76-9dbe7bad9ad4.txt',
          '2332584787d342547ea7ed088963b41b2953ad576449b258a02f949c07772317', "flex"),
    Entry('60', MODDED, MODDED_HEAD, 'records/track_1_short/2026-01-16_FusedSoftcappedEntropy/45beba56-93e2-4995-bc5b-caff3cb2c1b5.txt',
          '342be2e80f3f3afcb0e642ab884944a7c0a4a81f6019c50f0e5d763725db0357', "flex"),
    Entry('61', MODDED, MODDED_HEAD, 'records/track_1_short/2026-01-18_UnifiedOptimizers/unified-optimizer/2fc79469-a527-4bde-8540-8426ed3352d1.txt',
          '29c8af48ee4a0ca023980f8d5f84683e0c9a72e9f3f98bc10cf108c503785ac3', "flex"),
    Entry('62', MODDED, MODDED_HEAD, 'records/track_1_short/2026-01-19_BigramHashEmbedding/40ec7bb6-14b3-46f8-90b7-bb5ed188faba.txt',
          'd615f5f3dd5acd5b7bdfed719741c12ee5cc23020a21ebdc9ef5cfcd3966abf9', "flex"),
    Entry('63', MODDED, MODDED_HEAD, 'records/track_1_short/2026-01-26-UntieValueEmbeddings/43955d93-6914-40cb-bdf8-786ace93784f.txt',
          'f80bd851aa8e7c8519d06352074604417387642afdbda31b4009c44d89c58732', "flex"),
    Entry('64', MODDED, MODDED_HEAD, 'records/track_1_short/2026-01-30_MimeticValueOutput/runs/0f262f64-20c4-4268-9ae7-d7440c810abd.txt',
          'bdd270a14a248ca6f3c3362a99b7096e4a21b8955f681195773d9a988ada8642', "flex"),
    Entry('65', MODDED, MODDED_HEAD, 'records/track_1_short/2026-01-30_VeFused/0ba09d92-4ef1-440f-85e3-9d2766294db4.txt',
          'aa00d8c3af26bdeb858b2254ced11a99602dcb295972db991b1b60f9df5355e9', "flex"),
    Entry("66", MODDED, MODDED_HEAD, 'records/track_1_short/2026-01-30_VeFused/0ba09d92-4ef1-440f-85e3-9d2766294db4.txt',
          'aa00d8c3af26bdeb858b2254ced11a99602dcb295972db991b1b60f9df5355e9', "flex",
          note="no log of its own (Torch 2.10 upgrade): #65's code"),
    Entry('67', MODDED, MODDED_HEAD, 'records/track_1_short/2026-01-24_ImprovedLMHead/record/73a071ac-522d-4ce0-a4d6-cf3955a376e4.txt',
          '6922d18f774ad5d01711a6945e169bbf34189ee57c870ca3659386a86a436b36', "flex"),
    Entry('68', MODDED, MODDED_HEAD, 'records/track_1_short/2026-01-31-BigramHashH2D/112c686e-b0d6-4dc8-814a-1ad1f5d5b274.txt',
          '8e0a285618cdc2a97ac63204602f0cd0fae20a183679fc2be5c949056af78626', "flex"),
    Entry('69', MODDED, MODDED_HEAD, 'records/track_1_short/2026-02-02_KernelTuning/25afb73a-332f-4d69-b9ab-f6261497f2d8.txt',
          '95a200bd7b3bb9a96b16d5a5e605807077654c039e0b4d9ef5ad9b10f4229c5f', "flex"),
    Entry('70', MODDED, MODDED_HEAD, 'records/track_1_short/2026-02-03_VeTuned/42cbebac-0599-4a89-a00e-26d1c4cad140.txt',
          '92e5b7851b82d3b2eb22be7d5554dd26153530c9a3a8b22b55917081bda0c07d', "flex"),
    Entry('71', MODDED, MODDED_HEAD, 'records/track_1_short/2026-02-06_SparseBigramGradient/02fee7bd-cd22-478b-9e8e-12e857ff3152.txt',
          '504f348a8fae784a4209b0caff4f94d61eff71adae65cd112dd437a9e9f56117', "flex"),
    Entry('72', MODDED, MODDED_HEAD, 'records/track_1_short/2026-02-10_ShortWindow/Short-Window_1_1.txt',
          'f35da98c2774331c7c71d4f3387fc795607c852dc7613a33b539f68a2d283035', "flex"),
    Entry('73', MODDED, MODDED_HEAD, 'records/track_1_short/2026-02-12_ParallelResiduals/451050db-d471-49db-b19b-be824bb896d0.txt',
          'f9e422a5d74a0b9fea4086ea2b2b7ef32e93179deb9b79f91a26364956b29c01', "flex"),
    Entry('74', MODDED, MODDED_HEAD, 'records/track_1_short/2026-02-16_FlattenForward/pr233/2026-02-16_21-30-05_time-362_secs_F-inject-post-attn_9f12a3.txt',
          'd868aea6d08500be5f4f7fd1c8d25cc7d9975ee6455b9b343478317922a301b3', "flex"),
    Entry('75', MODDED, MODDED_HEAD, 'records/track_1_short/2026-02-23_CrossEntropyKernel/1e51be6b-7dd4-41ab-b95d-e57da5814776.txt',
          'def2440ddf2e1bf2859b2b918c3898c4bec38860f1d02026fb6525f1c0c3a6ca', "flex"),
    Entry('76', MODDED, MODDED_HEAD, 'records/track_1_short/2026-02-28_TransposeCopyBackward/this_pr/14c9cefc-c840-493f-870e-61bb1d2b1d97.txt',
          '8a675f8c45282718b7818bd154a7a2a8d96d40c5d7eac19c3c05784b93c1da26', "flex"),
    Entry('77', MODDED, MODDED_HEAD, 'records/track_1_short/2026-03-06_SimplifyHC/0ab4a843-8c3a-4fb4-9fff-8e1d39852646.txt',
          '62be616406f846394fff64545c1ee8123d58539de9e3fff2474375a946d6f004', "flex"),
    Entry('78', MODDED, MODDED_HEAD, 'records/track_1_short/2026-03-22_VarlenMaxDocs/combined/2026-03-22_20-07-32_time-186_secs_06-mbeta2-max-docs_227ce8.txt',
          'd8ce7b06a3d87ae8280af48460e734d8176b6de83ed37e422d25b276112980e6', "flex"),
    Entry('79', MODDED, MODDED_HEAD, 'records/track_1_short/2026-04-04_FuseCEFwdAndBwd/runs/19ad9161-37c0-4985-8dd4-6db4e27f34b4.txt',
          'cab53bcd839877cb923f3fea603a7ddba2ae0791d5906205aeda60bd8a0f9aa3', "flex"),
    Entry('80', MODDED, MODDED_HEAD, 'records/track_1_short/2026-04-08_PairedHeadMuon/logs/split_qk0-1480.txt',
          'd67b87fd13fd3ac511a5866c85fd82296d772ddf641f29d5b5a550610426aa06', "flex"),
    Entry('81', MODDED, MODDED_HEAD, 'records/track_1_short/2026-04-22_MuddFormer/this_pr_v3/s1415v6_24559370-1341-4b22-93cc-f345c18829e2.txt',
          '5df0079b7442974020d370c80d2d08a88fbc00c939f5177c793f6cf1c3ab5690', "flex"),
    Entry('82', MODDED, MODDED_HEAD, 'records/track_1_short/2026-04-29_XSAGatedLayers/this_pr_v1-s1410/06563169-6435-48ba-a1ad-f3e61bfcc573.txt',
          'ff476d7d786461d5f5e611c9d728d4b81148e50536c5b4eb330a03c0e24a68dd', "flex"),
    Entry('83', MODDED, MODDED_HEAD, 'records/track_1_short/2026-05-20_BigramsSignTrick/pr299/0cf91274-eda8-49cd-9a97-9369f730f271.txt',
          '46117ef95665b115b16386ba203dbfe068d9e4519552ccfb644595f5ac665341', "flex"),
    Entry('84', MODDED, MODDED_HEAD, 'records/track_1_short/2026-05-19_FP8MLPUpProj/this_record/008bb79d-d5bc-4205-bd4e-5e4ae82e658c.txt',
          '9454e7d0a4e7396db51109b60c04820bf272bed5fce0c5e82bcb8c8b86e55165', "flex"),
    Entry('85', MODDED, MODDED_HEAD, 'records/track_1_short/2026-05-27-MuddGatedAndDC/this_pr_v3/094d297d-8156-4f99-b0da-a7dcdd63eec3.txt',
          '5fca9960987c481e16158d995415432a29b77d110a892a89415dc7b6dd678ea8', "flex"),
    # (0016a3c4, titled "XSA rewrite", only drops `attn_gate_w` from the attention, which then
    # fails with a NameError; the next commit, 003ff3e2, puts it back and rewrites XSA)
    Entry('86', MODDED, '003ff3e2dd23ff5f7dfd6ada88eb1ff9320bfd3b', 'train_gpt.py',
          'a25d8521057cb98b3a80e7f2e12abd1a78f64b2d93c7d6f5820524ee71f76991', "flex",
          note="no log: root train_gpt.py (+ triton_kernels.py, dc_triton_kernels.py) at the XSA-rewrite commit"),
    Entry('87', MODDED, MODDED_HEAD, 'records/track_1_short/2026-06-11_RecursiveFromBest/this_pr/00088a48-30a3-4ebd-9768-6061011337f4.txt',
          '9fc5533756d5169e019e780c16aa92614d4629e2e9f246dfde7f9795bb837ddc', None),
    Entry('88', MODDED, MODDED_HEAD, 'records/track_1_short/2026-07-13_PrefixTokenPrediction/prefix-1375/1b20ccf2-cb2f-4b6b-bc8a-2d9cd146f549.txt',
          '4759cd538026166f6ca394651386b2bb59fb89d75a50dcf748b0f31340a3229e', None),
    Entry('89', MODDED, MODDED_HEAD, 'records/track_1_short/2026-07-17_FP8DownProjection/this_pr/11cb620c-daaf-4e85-83fc-258a5eb7ba09.txt',
          'a75f0fc89818cd631d21d48bae4fc849f5b12bd92ff410099983d3bbd4aba2e9', None),
    Entry('head', MODDED, MODDED_HEAD, 'train_gpt.py',
          '5afd951e0cde5e42c3e4e25a39288685f62aae13bd0d833a9a27de84f852d232', None, note="upstream HEAD: train_gpt.py (+ triton_kernels.py, dc_triton_kernels.py)"),
)

_BY_RECORD = {e.record: e for e in _ENTRIES}


def entries() -> tuple[Entry, ...]:
    return _ENTRIES


def entry_for(record: str | int) -> Entry:
    key = str(record).strip().lstrip("#").lower()
    if key not in _BY_RECORD:
        raise KeyError(f"no upstream entry for record {record!r}; known: {', '.join(_BY_RECORD)}")
    return _BY_RECORD[key]
