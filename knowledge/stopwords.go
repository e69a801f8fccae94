package knowledge

import "strings"

// stopwords are the words of a question that say nothing about what is
// asked: articles, pronouns, prepositions, question words, the verbs of
// asking ("I need", "where can I find") and politeness. They are dropped
// from questions and from the index, in every language at once, because
// people mix languages and the user's language setting may be wrong.
//
// Only function words belong here: a word that could be the subject of a
// question (Arbeit, Wohnung, Termin, Kurs) must not, even if it is common;
// the inverse document frequency already makes common words count less.
var stopwords = map[string]string{
	"de": `ich du er sie es wir ihr mich mir dich dir uns euch sich ihnen
		mein meine meinen meiner meinem meines dein deine deinen sein seine seinen
		ihre ihren unser unsere unseren man jemand etwas
		der die das den dem des ein eine einen einem einer eines
		und oder aber auch noch schon nur sehr mehr viel viele alle
		wo wie was wer wen wem wann warum wieso weshalb welche welcher welches
		welchen woher wohin womit wozu worum
		ist sind bin bist war waren wäre gewesen habe hast hat haben hatte hätte
		kann kannst können könnte könnten möchte möchten möchtest mag will willst
		wollen muss musst müssen soll sollte sollen darf dürfen
		brauche brauchst braucht brauchen suche suchst sucht suchen finde findet
		finden gibt geben bekomme bekommen kriege machen mache tun gehe gehen
		komme kommen erreiche erreichen
		in im an am auf aus bei beim mit nach von vom zu zum zur für über unter
		vor neben zwischen durch gegen ohne um bis seit wegen
		hier da dort dann denn so als wenn ob dass nicht kein keine keinen
		ja nein bitte danke hallo hi mal doch gerne gern nähe
		hilfe helfen hilft info infos information informationen frage fragen`,
	"en": `i me my mine myself you your yours we our us he him his she her it its
		they them their someone something
		a an the and or but also too very more much many all
		where what when who whom whose which why how
		is are am was were be been being do does did doing have has had
		can could would should will shall may might must
		need needs needed want wants wanna looking look find finding get got
		go going come reach
		to of in on at by for from with about into near nearby around without
		this that these those there here then than so if not no yes
		please thanks thank hello hi hey help helping tell know
		info information question questions`,
	"fr": `je j tu il elle on nous vous ils elles me m moi te t toi se s lui leur
		mon ma mes ton ta tes son sa ses notre nos votre vos
		le la les l un une des du de d au aux a à en dans sur sous pour par avec
		sans chez vers et ou mais donc ce c cet cette ces qu que qui quoi
		où quand comment pourquoi quel quelle quels quelles combien
		est sont suis es être ai as avons avez ont avoir
		peux peut pouvez pouvons puis faut besoin veux voudrais voulons voulez
		cherche cherchons chercher trouver trouve obtenir aller vais
		y ne pas non oui plus très
		aide aider svp plaît plait merci bonjour salut près proche
		information informations question`,
	"tr": `ben sen o biz siz onlar beni bana benim seni sana senin bizim sizin
		bir ve veya ya ile için de da ki mi mı mu mü çok daha
		nerede nerde nereye nereden nasıl nasil ne neden niçin niye kim kime
		hangi hangisi
		bu şu orada burada şurada orası burası var yok mı
		lazım gerek gerekiyor istiyorum isterim arıyorum ariyorum bulabilirim
		bulurum bulmak bul almak alabilirim yapabilirim olabilir gidebilirim
		ihtiyacım ihtiyacim
		lütfen lutfen teşekkürler tesekkurler merhaba selam yardım yardim
		bilgi soru yakın yakınımda`,
	"ru": `я ты он она оно мы вы они меня мне мной тебя тебе нас нам вас вам
		мой моя моё мои твой наш ваш свой
		где как что кто когда почему зачем какой какая какое какие куда откуда
		сколько ли
		в во на с со к ко до от для о об про по за под над около рядом через
		из у при без
		и или но а же это этот эта эти тот там тут здесь есть был была были быть
		не нет да
		можно могу может мочь нужно нужен нужна нужны надо хочу хотел хотела
		ищу найти найду получить пойти
		помощь помогите помочь пожалуйста спасибо привет здравствуйте
		информация информацию вопрос`,
	"uk": `я ти він вона воно ми ви вони мене мені мною тебе тобі нас нам вас вам
		мій моя моє мої твій наш ваш свій
		де як що хто коли чому навіщо який яка яке які куди звідки скільки чи
		в у на з із зі до від для про по за під над біля поруч через без при
		і й та або але а це цей ця ці той там тут є був була були бути
		не ні так
		можна можу може потрібно потрібен потрібна потрібні треба хочу хотів
		хотіла шукаю знайти знайду отримати піти
		допомога допомогу допоможіть допомогти будь ласка дякую привіт вітаю
		інформація інформацію питання`,
	"ar": `أنا انا أنت انت نحن هو هي هم هن أنتم انتم لي لنا
		ما ماذا متى كيف لماذا أين اين من هل أي اي كم
		في على إلى الى عن مع من ل لل ب و أو او ثم
		هذا هذه ذلك تلك الذي التي هناك هنا يوجد توجد كان
		أريد اريد أحتاج احتاج ابحث أبحث أجد اجد يمكن يمكنني أستطيع استطيع
		عندي لدي بحاجة
		مرحبا شكرا فضلك سمحت لو ساعدني مساعدة معلومات سؤال قريب`,
	"fa": `من تو ما شما او آنها ایشان
		کجا کجاست چه چی چرا کی چطور چطوری چگونه آیا کدام چند
		را از به با در برای تا و یا هم که اینجا آنجا این آن
		است هست هستم هستند بود باشد
		می میخواهم میخوام خواهم خواستم میخواستم لازم دارم داریم باید بتوانم
		میتوانم میتونم میشه پیدا کنم کنیم کنید کردن برم بروم بگیرم گرفتن
		لطفا سلام ممنون مرسی کمک اطلاعات سوال نزدیک`,
}

// stopSet returns the search keys of all stopwords.
func stopSet() map[string]bool {
	set := make(map[string]bool, 1024)
	for _, words := range stopwords {
		for _, w := range strings.Fields(words) {
			for _, k := range searchKeys(w) {
				set[k] = true
			}
		}
	}
	return set
}

// intentWords ask about a property of whatever the question is about
// (opening hours, address, phone, appointment, registration, today): in
// "Ausländerbehörde Öffnungszeiten" the office is the subject. They count
// with intentShare of their weight, so that an entry that merely mentions
// opening hours does not beat the office; alone they still find entries.
var intentWords = map[string]string{
	"de": `öffnungszeiten geöffnet offen geschlossen adresse anschrift standort anfahrt
		telefon telefonnummer nummer email mail kontakt termin termine terminvereinbarung
		uhrzeit zeit zeiten heute morgen kosten kostenlos anmelden anmeldung`,
	"en": `opening hours open opened closed address location phone number email mail
		contact appointment appointments time times today tomorrow cost costs free
		register registration sign book`,
	"fr": `horaires ouverture ouvert fermé adresse téléphone numéro email contact
		rendez vous heure heures aujourd hui demain coût gratuit inscription inscrire`,
	"tr": `açılış saatleri saat açık kapalı adres telefon numara numarası iletişim
		randevu bugün yarın ücret ücretsiz kayıt kaydolmak başvuru başvurmak başvururum`,
	"ru": `часы работы открыто закрыто адрес телефон номер контакт запись записаться
		приём прием сегодня завтра стоимость бесплатно регистрация`,
	"uk": `години роботи відкрито зачинено адреса телефон номер контакт запис
		записатися прийом сьогодні завтра вартість безкоштовно реєстрація`,
	"ar": `مواعيد ساعات الدوام مفتوح عنوان هاتف رقم موعد اليوم غدا تسجيل مجاني`,
	"fa": `ساعت کاری باز آدرس نشانی تلفن شماره وقت نوبت امروز فردا ثبت نام رایگان`,
}

// intentShare is the share of its weight an intent word keeps.
const intentShare = 0.3

// intentSet returns the search keys of all intent words.
func intentSet() map[string]bool {
	set := make(map[string]bool, 256)
	for _, words := range intentWords {
		for _, w := range strings.Fields(words) {
			for _, k := range searchKeys(w) {
				set[k] = true
			}
		}
	}
	return set
}
