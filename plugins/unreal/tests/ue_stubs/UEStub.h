// Compile-only stand-ins for the few Unreal Engine types the plugin's Unreal layer uses.
//
// NOT the engine: they only let the host build type-check the plugin's own code (names, types,
// const-correctness, lambdas) where no engine is installed. Signatures follow the UE 5.3 headers
// as documented; the real check remains a build in the engine. Never shipped.
//
// This file holds what CoreMinimal.h and CoreUObject give every file. Everything else lives in a
// stand-in of its own header (Sockets.h, IImageWrapper.h, HAL/Runnable.h, Engine/Canvas.h, ...)
// declaring only what that header declares, so a .cpp that forgets an include fails here as it
// would in a non-unity engine build. Where the engine checks its arguments at compile time the
// stand-ins do too (Printf refuses an FString, Cast wants a UObject class, a render command takes
// FRHICommandListImmediate&, a ticker returns bool).
#pragma once

#include <algorithm>
#include <atomic>
#include <map>
#include <cstdint>
#include <cstring>
#include <cwchar>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

using int8 = std::int8_t;
using int16 = std::int16_t;
using int32 = std::int32_t;
using int64 = long long;
using uint8 = std::uint8_t;
using uint16 = std::uint16_t;
using uint32 = std::uint32_t;
using uint64 = unsigned long long;
using TCHAR = wchar_t;
#define TEXT(x) L##x
#define MAX_uint32 0xffffffffu
#define MAX_int32 0x7fffffff
#define WITH_EDITORONLY_DATA 0
#define WITH_DEV_AUTOMATION_TESTS 1
#define PLATFORM_SOCKETSUBSYSTEM FName()
#define YUMEBRIDGE_API
#define UCLASS(...)
#define USTRUCT(...)
#define UENUM(...)
#define UPROPERTY(...)
#define UFUNCTION(...)
#define GENERATED_BODY()
#define DECLARE_LOG_CATEGORY_EXTERN(Name, Verbosity, Compile) extern struct FLogCategory##Name { } Name
#define DEFINE_LOG_CATEGORY(Name) FLogCategory##Name Name
#define UE_LOG(Category, Verbosity, Format, ...) ((void)(Category), ::UEStub::Log(Format, ##__VA_ARGS__))
#define IMPLEMENT_MODULE(Class, Name) [[maybe_unused]] static Class G##Name##Module;
#define UTF8_TO_TCHAR(x) ::UEStub::Widen(x).c_str()

template <class T> T&& MoveTemp(T& Value) { return static_cast<T&&>(Value); }
template <class T> T&& MoveTemp(T&& Value) { return static_cast<T&&>(Value); }

class FString
{
public:
	FString() = default;
	FString(const TCHAR* Text) : Data(Text ? Text : L"") {}
	bool IsEmpty() const { return Data.empty(); }
	const TCHAR* operator*() const { return Data.c_str(); }
	FString& operator+=(const TCHAR* Text) { Data += Text; return *this; }
	FString& operator+=(const FString& Text) { Data += Text.Data; return *this; }
	bool operator==(const FString& Other) const { return Data == Other.Data; }
	bool operator!=(const FString& Other) const { return Data != Other.Data; }
	bool operator==(const TCHAR* Other) const { return Data == Other; }
	// Like the engine's, it refuses an FString argument (pass *Text): a classic crash on MSVC.
	template <class... A> static FString Printf(const TCHAR* Format, A... Args)
	{
		static_assert(((!std::is_same_v<std::decay_t<A>, FString>) && ...), "pass *Text, not an FString, to Printf");
		(void)sizeof...(Args);
		return FString(Format);
	}
	bool RemoveFromEnd(const TCHAR* Suffix)
	{
		const std::wstring End(Suffix);
		if (Data.size() >= End.size() && Data.compare(Data.size() - End.size(), End.size(), End) == 0)
		{
			Data.resize(Data.size() - End.size());
			return true;
		}
		return false;
	}
	bool operator<(const FString& Other) const { return Data < Other.Data; }
	static FString FromInt(int32 Value) { return FString(std::to_wstring(Value).c_str()); }
	int32 Len() const { return static_cast<int32>(Data.size()); }
private:
	std::wstring Data;
};

namespace UEStub
{
	template <class... A> void Log(const TCHAR*, A...) {}
	inline std::wstring Widen(const char* Text) { return std::wstring(Text, Text + std::strlen(Text)); }
}

class FName
{
public:
	FName() = default;
	FName(const TCHAR*) {}
	bool IsNone() const { return true; }
	bool operator<(const FName&) const { return false; }
	bool operator==(const FName&) const { return true; }
	bool operator!=(const FName&) const { return false; }
};
#define NAME_None FName()
#define NAME_DGram FName()

template <class T, class SizeT = int32>
class TArrayBase
{
public:
	using SizeType = SizeT;
	TArrayBase() = default;
	TArrayBase(const T* Ptr, SizeT Count) : Items(Ptr, Ptr + Count) {}
	TArrayBase(std::initializer_list<T> List) : Items(List) {}
	SizeT Num() const { return static_cast<SizeT>(Items.size()); }
	T* GetData() { return Items.data(); }
	const T* GetData() const { return Items.data(); }
	SizeT Add(const T& Item) { Items.push_back(Item); return Num() - 1; }
	SizeT AddUnique(const T& Item) { for (SizeT i = 0; i < Num(); ++i) { if (Items[static_cast<std::size_t>(i)] == Item) return i; } return Add(Item); }
	SizeT Remove(const T& Item) { const auto Before = Items.size(); Items.erase(std::remove(Items.begin(), Items.end(), Item), Items.end()); return static_cast<SizeT>(Before - Items.size()); }
	void Reset() { Items.clear(); }
	void Empty() { Items.clear(); }
	void SetNumUninitialized(SizeT Count) { Items.resize(static_cast<std::size_t>(Count)); }
	void Append(const T* Ptr, SizeT Count) { Items.insert(Items.end(), Ptr, Ptr + Count); }
	template <class P> void StableSort(P Predicate) { std::stable_sort(Items.begin(), Items.end(), Predicate); }
	bool IsValidIndex(SizeT Index) const { return Index >= 0 && Index < Num(); }
	T& operator[](SizeT Index) { return Items[static_cast<std::size_t>(Index)]; }
	const T& operator[](SizeT Index) const { return Items[static_cast<std::size_t>(Index)]; }
	bool operator==(const TArrayBase& Other) const { return Items == Other.Items; }
	bool operator!=(const TArrayBase& Other) const { return Items != Other.Items; }
	auto begin() { return Items.begin(); }
	auto end() { return Items.end(); }
	auto begin() const { return Items.begin(); }
	auto end() const { return Items.end(); }
private:
	std::vector<T> Items;
};
template <class T> using TArray = TArrayBase<T, int32>;
template <class T> using TArray64 = TArrayBase<T, int64>;

template <class T>
class TOptional
{
public:
	TOptional() = default;
	TOptional(const T& In) : Value(In) {}
	bool IsSet() const { return Value.has_value(); }
	T& GetValue() { return *Value; }
	const T& GetValue() const { return *Value; }
	template <class... A> void Emplace(A&&... Args) { Value.emplace(std::forward<A>(Args)...); }
	void Reset() { Value.reset(); }
private:
	std::optional<T> Value;
};

enum class ESPMode { NotThreadSafe, ThreadSafe };
template <class T, ESPMode Mode = ESPMode::ThreadSafe>
class TSharedPtr
{
public:
	TSharedPtr() = default;
	TSharedPtr(std::shared_ptr<T> In) : Ptr(std::move(In)) {}
	template <class U> TSharedPtr(const TSharedPtr<U, Mode>& Other) : Ptr(Other.Get() ? std::shared_ptr<T>(Other.Raw()) : nullptr) {}
	bool IsValid() const { return Ptr != nullptr; }
	explicit operator bool() const { return IsValid(); }
	T* operator->() const { return Ptr.get(); }
	T& operator*() const { return *Ptr; }
	T* Get() const { return Ptr.get(); }
	void Reset() { Ptr.reset(); }
	int32 GetSharedReferenceCount() const { return static_cast<int32>(Ptr.use_count()); }
	const std::shared_ptr<T>& Raw() const { return Ptr; }
private:
	std::shared_ptr<T> Ptr;
};
template <class T, ESPMode Mode = ESPMode::ThreadSafe>
class TWeakPtr
{
public:
	TWeakPtr() = default;
	TWeakPtr(const TSharedPtr<T, Mode>& Shared) : Ptr(Shared.Raw()) {}
	TSharedPtr<T, Mode> Pin() const { return TSharedPtr<T, Mode>(Ptr.lock()); }
	bool IsValid() const { return !Ptr.expired(); }
private:
	std::weak_ptr<T> Ptr;
};
template <class T, ESPMode Mode = ESPMode::ThreadSafe> using TSharedRef = TSharedPtr<T, Mode>;
template <class T, ESPMode Mode = ESPMode::ThreadSafe, class... A> TSharedPtr<T, Mode> MakeShared(A&&... Args)
{
	return TSharedPtr<T, Mode>(std::make_shared<T>(std::forward<A>(Args)...));
}
template <class T>
class TUniquePtr
{
public:
	TUniquePtr() = default;
	TUniquePtr(std::unique_ptr<T> In) : Ptr(std::move(In)) {}
	bool IsValid() const { return Ptr != nullptr; }
	T* operator->() const { return Ptr.get(); }
	T& operator*() const { return *Ptr; }
	T* Get() const { return Ptr.get(); }
	void Reset() { Ptr.reset(); }
private:
	std::unique_ptr<T> Ptr;
};
template <class T, class... A> TUniquePtr<T> MakeUnique(A&&... Args) { return TUniquePtr<T>(std::make_unique<T>(std::forward<A>(Args)...)); }
template <class T> using TObjectPtr = T*;
template <class F> using TFunction = std::function<F>;
template <class F> using TUniqueFunction = std::function<F>;
template <class T> void Swap(T& A, T& B) { std::swap(A, B); }

template <class K, class V>
struct TPair
{
	K Key;
	V Value;
};
template <class K, class V>
class TMap
{
public:
	V* Find(const K& Key) { auto It = Items.find(Key); return It == Items.end() ? nullptr : &It->second; }
	V& Add(const K& Key, const V& Value) { return Items[Key] = Value; }
	bool RemoveAndCopyValue(const K& Key, V& Out) { auto It = Items.find(Key); if (It == Items.end()) return false; Out = It->second; Items.erase(It); return true; }
	void Empty() { Items.clear(); }
	int32 Num() const { return static_cast<int32>(Items.size()); }
	struct FIterator
	{
		typename std::map<K, V>::const_iterator It;
		TPair<K, V> operator*() const { return TPair<K, V>{It->first, It->second}; }
		FIterator& operator++() { ++It; return *this; }
		bool operator!=(const FIterator& O) const { return It != O.It; }
	};
	FIterator begin() const { return FIterator{Items.begin()}; }
	FIterator end() const { return FIterator{Items.end()}; }
private:
	std::map<K, V> Items;
};

struct FLinearColor
{
	float R = 0.f, G = 0.f, B = 0.f, A = 0.f;
	static const FLinearColor White;
	static const FLinearColor Black;
};
inline const FLinearColor FLinearColor::White{1.f, 1.f, 1.f, 1.f};
inline const FLinearColor FLinearColor::Black{0.f, 0.f, 0.f, 1.f};
struct FColor
{
	uint8 B = 0, G = 0, R = 0, A = 0;
};
struct FIntRect
{
	FIntRect(int32, int32, int32, int32) {}
};

struct FVector2D
{
	double X = 0.0;
	double Y = 0.0;
	FVector2D() = default;
	FVector2D(double InX, double InY) : X(InX), Y(InY) {}
	static const FVector2D ZeroVector;
	static const FVector2D UnitVector;
	FVector2D operator*(float Scale) const { return FVector2D(X * Scale, Y * Scale); }
	bool operator!=(const FVector2D& O) const { return X != O.X || Y != O.Y; }
};
inline const FVector2D FVector2D::ZeroVector{};
inline const FVector2D FVector2D::UnitVector{1.0, 1.0};

struct FMath
{
	template <class T> static T Clamp(T Value, T Min, T Max) { return Value < Min ? Min : (Value > Max ? Max : Value); }
	template <class T> static T Min(T A, T B) { return A < B ? A : B; }
	template <class T> static T Max(T A, T B) { return A < B ? B : A; }
	static int32 RoundToInt(float Value) { return static_cast<int32>(Value + 0.5f); }
	static float FRand() { return 0.5f; }
};

struct FTimespan
{
	static FTimespan FromMicroseconds(double) { return FTimespan(); }
	static FTimespan FromMilliseconds(double) { return FTimespan(); }
};

struct FGuid
{
	uint32 A = 0, B = 0, C = 0, D = 0;
	static FGuid NewGuid() { return FGuid(); }
};

class FTCHARToUTF8
{
public:
	explicit FTCHARToUTF8(const TCHAR* Text) { for (; *Text; ++Text) Buffer.push_back(static_cast<char>(*Text)); }
	const char* Get() const { return Buffer.c_str(); }
	int32 Length() const { return static_cast<int32>(Buffer.size()); }
private:
	std::string Buffer;
};

// ---- delegates ----
template <class... A>
struct TStubMulticastDelegate
{
	template <class... B> void Broadcast(B&&...) const {}
};
#define DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(Name, T1, P1) using Name = TStubMulticastDelegate<T1>;
#define DECLARE_DYNAMIC_MULTICAST_DELEGATE_TwoParams(Name, T1, P1, T2, P2) using Name = TStubMulticastDelegate<T1, T2>;
#define DECLARE_DYNAMIC_MULTICAST_DELEGATE_ThreeParams(Name, T1, P1, T2, P2, T3, P3) using Name = TStubMulticastDelegate<T1, T2, T3>;

// ---- threads ----
class FCriticalSection
{
public:
	void Lock() {}
	void Unlock() {}
};
enum EThreadPriority { TPri_Normal, TPri_AboveNormal };
struct FPlatformTime
{
	static double Seconds() { return 0.0; }
};

// ---- modules ----

// ---- images ----

// ---- sockets ----

// ---- engine objects ----
class UWorld;
enum EObjectFlags { RF_NoFlags = 0, RF_ClassDefaultObject = 0x10 };
class UObject
{
public:
	virtual ~UObject() = default;
	FString GetName() const { return FString(); }
	virtual void BeginDestroy() {}
	virtual UWorld* GetWorld() const { return nullptr; }
	UObject* GetOuter() const { return nullptr; }
	bool HasAnyFlags(EObjectFlags) const { return false; }
	bool IsTemplate() const { return false; }
	void AddToRoot() {}
	void RemoveFromRoot() {}
};
template <class T> T* Cast(UObject* Object) { static_assert(std::is_base_of_v<UObject, T>, "Cast is for UObjects"); (void)Object; return nullptr; }
template <class T> const T* Cast(const UObject* Object) { static_assert(std::is_base_of_v<UObject, T>, "Cast is for UObjects"); (void)Object; return nullptr; }
template <class T> T* NewObject(UObject* Outer = nullptr, FName Name = FName(), EObjectFlags Flags = RF_NoFlags) { (void)Outer; (void)Name; (void)Flags; return nullptr; }
inline bool IsValid(const UObject* Object) { return Object != nullptr; }
template <class T>
class TWeakObjectPtr
{
public:
	TWeakObjectPtr() = default;
	TWeakObjectPtr(T* In) : Object(In) {}
	T* Get() const { return Object; }
	bool IsValid() const { return Object != nullptr; }
	bool operator==(const TWeakObjectPtr& Other) const { return Object == Other.Object; }
private:
	T* Object = nullptr;
};
template <class T> const T* GetDefault() { static T Object; return &Object; }
class UDeveloperSettings : public UObject
{
public:
	virtual FName GetCategoryName() const { return FName(); }
};
namespace EEndPlayReason { enum Type { Destroyed, Quit }; }
enum ELevelTick { LEVELTICK_All };
struct FActorComponentTickFunction
{
	uint8 bCanEverTick : 1;
	uint8 bStartWithTickEnabled : 1;
	uint8 bTickEvenWhenPaused : 1;
};
enum ENetMode { NM_Standalone, NM_DedicatedServer, NM_ListenServer, NM_Client };
enum ENetRole { ROLE_None, ROLE_SimulatedProxy, ROLE_AutonomousProxy, ROLE_Authority };
class AActor : public UObject
{
public:
	ENetRole GetLocalRole() const { return ROLE_Authority; }
	ENetMode GetNetMode() const { return NM_Standalone; }
};
class UActorComponent : public UObject
{
public:
	virtual void BeginPlay() {}
	virtual void EndPlay(const EEndPlayReason::Type EndPlayReason) { (void)EndPlayReason; }
	virtual void TickComponent(float DeltaTime, ELevelTick TickType, FActorComponentTickFunction* ThisTickFunction) { (void)DeltaTime; (void)TickType; (void)ThisTickFunction; }
	virtual void SetComponentTickEnabled(bool bEnabled) { (void)bEnabled; }
	AActor* GetOwner() const { return nullptr; }
	ENetMode GetNetMode() const { return NM_Standalone; }
	FActorComponentTickFunction PrimaryComponentTick{};
};
enum EPixelFormat { PF_Unknown, PF_B8G8R8A8, PF_R8G8B8A8 };
enum TextureFilter { TF_Nearest, TF_Bilinear };
enum TextureAddress { TA_Wrap, TA_Clamp };
struct FUpdateTextureRegion2D
{
	FUpdateTextureRegion2D(uint32, uint32, int32, int32, uint32, uint32) {}
};
struct FByteBulkData
{
	const void* LockReadOnly() const { return nullptr; }
	void Unlock() const {}
};
struct FTexture2DMipMap
{
	int32 SizeX = 0;
	int32 SizeY = 0;
	FByteBulkData BulkData;
};
struct FTexturePlatformData
{
	TArray<FTexture2DMipMap> Mips;
	EPixelFormat PixelFormat = PF_Unknown;
};
class FTextureResource {};
class UTexture : public UObject
{
public:
	FTextureResource* GetResource() const { return nullptr; }
	virtual float GetSurfaceWidth() const { return 0.f; }
	virtual float GetSurfaceHeight() const { return 0.f; }
};
class UTexture2D : public UTexture
{
public:
	static UTexture2D* CreateTransient(int32, int32, EPixelFormat = PF_B8G8R8A8) { return nullptr; }
	uint8 SRGB : 1;
	TextureFilter Filter = TF_Bilinear;
	TextureAddress AddressX = TA_Wrap;
	TextureAddress AddressY = TA_Wrap;
	void UpdateResource() {}
	int32 GetSizeX() const { return 0; }
	int32 GetSizeY() const { return 0; }
	FTexturePlatformData* GetPlatformData() { return nullptr; }
	void UpdateTextureRegions(int32, uint32, const FUpdateTextureRegion2D*, uint32, uint32, uint8*,
		TFunction<void(uint8*, const FUpdateTextureRegion2D*)> = nullptr) {}
};
struct FEngineVersion
{
	static const FEngineVersion& Current() { static FEngineVersion Version; return Version; }
	uint16 GetMajor() const { return 5; }
	uint16 GetMinor() const { return 4; }
};
struct FFileHelper
{
	static bool LoadFileToArray(TArray<uint8>&, const TCHAR*) { return false; }
};

// ---- automation tests ----
namespace EAutomationTestFlags { enum Type { EditorContext = 1, ClientContext = 2, EngineFilter = 4, ProductFilter = 8 }; }
class FAutomationTestBase
{
public:
	virtual ~FAutomationTestBase() = default;
	void AddError(const FString&) {}
	void AddInfo(const FString&) {}
	bool TestTrue(const TCHAR*, bool Value) { return Value; }
	template <class A, class B> bool TestEqual(const TCHAR*, const A& Actual, const B& Expected) { return Actual == Expected; }
	virtual bool RunTest(const FString& Parameters) = 0;
};
#define IMPLEMENT_SIMPLE_AUTOMATION_TEST(Class, Name, Flags) \
	class Class : public FAutomationTestBase { public: virtual bool RunTest(const FString& Parameters) override; }; \
	static_assert(((Flags) & 0) == 0, "flags are an integer expression");
